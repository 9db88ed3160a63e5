// The operators' HTTP endpoints: GET /healthz (the process answers and its database is
// reachable) and GET /metrics (Prometheus text format).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Database } from "../db.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { WorkerMetrics } from "./metrics.ts";

export interface Health {
  status: "ok" | "unavailable";
  database: "reachable" | "unreachable";
  error?: string;
  /** The next scheduled fire, ISO 8601, or null when the schedule is stopped. */
  nextFireAt: string | null;
}

/** A database that does not answer within this time counts as unreachable. */
const DATABASE_CHECK_TIMEOUT_MS = 3_000;

export async function checkHealth(db: Database, nextFire: () => Date | null): Promise<Health> {
  const nextFireAt = nextFire()?.toISOString() ?? null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${DATABASE_CHECK_TIMEOUT_MS} ms`));
    }, DATABASE_CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([db.pool.query("SELECT 1"), timeout]);
    return { status: "ok", database: "reachable", nextFireAt };
  } catch (error) {
    return {
      status: "unavailable",
      database: "unreachable",
      error: errorMessage(error),
      nextFireAt,
    };
  } finally {
    clearTimeout(timer);
  }
}

export interface OperatorServer {
  /** Where this host reaches it, e.g. http://127.0.0.1:9464 (it listens on every interface). */
  url: string;
  close(): Promise<void>;
}

export interface OperatorServerOptions {
  port: number;
  log: Logger;
  health(): Promise<Health>;
  metrics: WorkerMetrics;
}

export async function startOperatorServer(options: OperatorServerOptions): Promise<OperatorServer> {
  const server = createServer((request, response) => {
    route(options, request, response).catch((error: unknown) => {
      options.log.error({ err: errorMessage(error), path: request.url }, "HTTP handler failed");
      if (!response.headersSent) send(response, 500, "text/plain", "internal error\n");
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // All interfaces: in a container the scraper and the health check come from outside.
    server.listen(options.port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
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
