// The operators' HTTP endpoints: GET /healthz (the process answers and its database is
// reachable) and GET /metrics (Prometheus text format). Whoever can reach the port must not
// be able to take what a run needs: the endpoints read the database through a pool of their
// own (start.ts), one read at a time however many requests wait for it, and the server
// bounds its connections and how long a client may take to send its request.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Database } from "../db.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { pingDatabase } from "../sql/health.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { singleFlight } from "./single-flight.ts";

export interface Health {
  status: "ok" | "unavailable";
  database: "reachable" | "unreachable";
  /** What is down, never why: the database's error names its host and user (logged instead). */
  error?: string;
  /** The next scheduled fire, ISO 8601, or null when the schedule is stopped. */
  nextFireAt: string | null;
}

/** A database that does not answer within this time counts as unreachable. */
const DATABASE_CHECK_TIMEOUT_MS = 3_000;

export async function checkHealth(
  db: Database,
  nextFire: () => Date | null,
  log: Logger,
): Promise<Health> {
  const nextFireAt = nextFire()?.toISOString() ?? null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${DATABASE_CHECK_TIMEOUT_MS} ms`));
    }, DATABASE_CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([pingDatabase(db.pool), timeout]);
    return { status: "ok", database: "reachable", nextFireAt };
  } catch (error) {
    log.warn({ err: errorMessage(error) }, "health check: the database cannot be read");
    return {
      status: "unavailable",
      database: "unreachable",
      error: "the database cannot be read; the worker's log says why",
      nextFireAt,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Limits of the operator server: scrapers and probes send small requests and come back. */
export const HTTP_LIMITS = {
  /** A client must have sent its request's headers by then (Node's default is 60 s). */
  headersTimeoutMs: 5_000,
  /** ... and the whole request (Node's default is 300 s). */
  requestTimeoutMs: 10_000,
  /** Open connections at once; more are closed as they come. */
  maxConnections: 256,
} as const;

export interface OperatorServer {
  /** Where this host reaches it, e.g. http://127.0.0.1:9464. */
  url: string;
  close(): Promise<void>;
}

export interface OperatorServerOptions {
  port: number;
  /** The address to listen on (HTTP_HOST); undefined: every interface. */
  host?: string | undefined;
  log: Logger;
  health(): Promise<Health>;
  metrics: WorkerMetrics;
}

export async function startOperatorServer(options: OperatorServerOptions): Promise<OperatorServer> {
  const health = singleFlight(() => options.health());
  const served = { ...options, health };
  const server = createServer(
    {
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      requestTimeout: HTTP_LIMITS.requestTimeoutMs,
      // How often those two are checked (Node's default is 30 s).
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: 8 * 1024,
    },
    (request, response) => {
      route(served, request, response).catch((error: unknown) => {
        options.log.error({ err: errorMessage(error), path: request.url }, "HTTP handler failed");
        if (!response.headersSent) send(response, 500, "text/plain", "internal error\n");
        else response.destroy();
      });
    },
  );
  server.maxConnections = HTTP_LIMITS.maxConnections;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // By default all interfaces: in a container the scraper and the probes come from outside.
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const unspecified = address === "0.0.0.0" || address === "::";
  const host = unspecified ? "127.0.0.1" : family === "IPv6" ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

async function route(
  options: OperatorServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = new URL(request.url ?? "/", "http://worker.invalid").pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    send(response, 405, "text/plain", "only GET\n");
    return;
  }
  if (path === "/healthz") {
    const health = await options.health();
    send(response, health.status === "ok" ? 200 : 503, "application/json", JSON.stringify(health));
    return;
  }
  if (path === "/metrics") {
    send(response, 200, options.metrics.contentType, await options.metrics.render());
    return;
  }
  send(response, 404, "text/plain", "not found: try /healthz or /metrics\n");
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  response.end(body);
}
