// Whoever can reach the worker's HTTP port cannot take what a run needs: during a run,
// hundreds of concurrent /metrics and /healthz requests and slow clients that send their
// headers a byte at a time. /healthz and /metrics read through a connection of their own
// (one read at a time), slow clients are cut off after HTTP_LIMITS.headersTimeoutMs, and
// connections past HTTP_LIMITS.maxConnections are closed as they come.
import { Agent, get } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_LIMITS } from "../src/worker/http.ts";
import { freePort, simulatorEnv, spawnCli, type CliProcess } from "./support/cli.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";

let h: Harness;
let worker: CliProcess;
let port: number;
let base: string;

beforeAll(async () => {
  // 60 customers in pages of 5, each page 150 ms late, one at a time: a run of a few seconds.
  h = await createHarness({ customers: sampleCustomers(60), simulator: { latencyMs: 150 } });
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = spawnCli(["start", "--no-migrate"], {
    ...simulatorEnv(h.db.url, h.simulator.url),
    ELEMENTS_PAGE_SIZE: "5",
    ELEMENTS_CONCURRENCY: "1",
    SYNC_CRON: "0 2 * * *",
    SYNC_ON_START: "true",
    HTTP_PORT: String(port),
    HTTP_HOST: "127.0.0.1",
  });
});

afterAll(async () => {
  worker.child.kill("SIGKILL");
  await worker.exited;
  await h.close();
});

/** GET `path` through `agent`; the status, or "error" when the connection failed. */
function request(agent: Agent, path: string): Promise<number | "error"> {
  return new Promise((resolve) => {
    get(`${base}${path}`, { agent }, (response) => {
      response.resume();
      response.on("end", () => {
        resolve(response.statusCode ?? 0);
      });
    }).on("error", () => {
      resolve("error");
    });
  });
}

/** A client that sends a request's headers a byte every 200 ms and never ends them. */
function slowClient(): { socket: Socket; closed: Promise<number> } {
  const socket = connect(port, "127.0.0.1");
  const opened = performance.now();
  const headers = "GET /healthz HTTP/1.1\r\nHost: worker\r\nX-Slow: " + "x".repeat(10_000);
  let sent = 0;
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(headers.charAt(sent++ % headers.length));
  }, 200);
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => {
    socket.on("close", () => {
      clearInterval(timer);
      resolve(performance.now() - opened);
    });
  });
  return { socket, closed };
}

async function runStatus(): Promise<string | undefined> {
  const [row] = await h.db.query<{ status: string }>("SELECT status FROM sync_runs");
  return row?.status;
}

async function httpConnections(): Promise<number> {
  const [row] = await h.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'elements-sync-http'`,
  );
  return row?.n ?? 0;
}

describe("the HTTP port under a flood during a run", () => {
  it("the run succeeds, /healthz answers, the flood holds one database connection", async () => {
    await expect.poll(runStatus, { timeout: 20_000 }).toBe("running");
    const slow = Array.from({ length: 100 }, slowClient);
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    const statuses: (number | "error")[] = [];
    let connections = 0;
    // 300 requests in flight at a time, /metrics and /healthz, for as long as the run runs.
    while ((await runStatus()) === "running") {
      const wave = Array.from({ length: 300 }, (_, i) =>
        request(agent, i % 2 === 0 ? "/metrics" : "/healthz"),
      );
      const [answers, seen] = await Promise.all([Promise.all(wave), httpConnections()]);
      statuses.push(...answers);
      connections = Math.max(connections, seen);
      expect(await request(new Agent(), "/healthz")).toBe(200);
    }
    agent.destroy();
    expect(await runStatus()).toBe("succeeded");
    expect(statuses.length).toBeGreaterThanOrEqual(300);
    expect(statuses.every((status) => status === 200)).toBe(true);
    // The endpoints' own connection, one however many requests wait: never the run's.
    expect(connections).toBe(1);

    // The slow clients were cut off once their headers took too long, not left open.
    const lifetimes = await Promise.all(slow.map((client) => client.closed));
    expect(Math.max(...lifetimes)).toBeLessThan(HTTP_LIMITS.headersTimeoutMs + 3_000);
    expect(await request(new Agent(), "/healthz")).toBe(200);
  });

  it("closes connections past HTTP_LIMITS.maxConnections as they come", async () => {
    const extra = 20;
    const sockets = Array.from({ length: HTTP_LIMITS.maxConnections + extra }, () => {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => undefined);
      return socket;
    });
    const closedEarly = await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => {
              resolve(false);
            }, 2_000);
            socket.on("close", () => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
      ),
    );
    expect(closedEarly.filter(Boolean).length).toBe(extra);
    for (const socket of sockets) socket.destroy();
    expect(await request(new Agent(), "/healthz")).toBe(200);
  });
});
