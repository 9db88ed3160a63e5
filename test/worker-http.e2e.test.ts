// The worker's HTTP endpoints for operators, against a real worker process: /healthz follows
// the database, /metrics holds what docs/operating.md documents.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { freePort, runCli, simulatorEnv, spawnCli, type CliProcess } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { sampleCustomers } from "./support/harness.ts";

let dir: string;
let simulator: Simulator;
let db: TestDatabase;
let worker: CliProcess;
let base: string;
let dropped = false;
const customers: object[] = sampleCustomers(30);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "elements-sync-http-"));
  const dataFile = join(dir, "customers.json");
  // One record without an id: rejected, and counted.
  await writeCustomersFile(dataFile, [...customers, { jobStatus: 1, managementMode: 1 }]);
  simulator = await startSimulator({ dataFile });
  // The first customers request fails once with a 503 and is retried.
  simulator.injectFault({ status: 503, times: 1 });
  db = await createTestDatabase("es_http");
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = spawnCli(["start"], {
    ...simulatorEnv(db.url, simulator.url),
    ELEMENTS_PAGE_SIZE: "10",
    SYNC_CRON: "30 4 * * *",
    SYNC_TIMEZONE: "Europe/Berlin",
    SYNC_ON_START: "true",
    HTTP_PORT: String(port),
  });
  // One finished run (the one at start) before the tests look.
  const deadline = Date.now() + 40_000;
  const finished = () =>
    db.query("SELECT 1 FROM sync_runs WHERE status <> 'running'").catch(() => []);
  while ((await finished()).length === 0) {
    if (Date.now() > deadline) throw new Error(`no run finished: ${worker.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
});

afterAll(async () => {
  worker.child.kill("SIGKILL");
  await worker.exited;
  await simulator.close();
  if (!dropped) await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Value of one sample in Prometheus text format, e.g. sample(text, 'runs{status="failed"}'). */
function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`elements_sync_${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("worker HTTP", () => {
  it("GET /healthz answers 200 while the database is reachable, with the next fire", async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "ok", database: "reachable" });
    // 04:30 in Berlin is 03:30 UTC in winter, 02:30 UTC in summer.
    expect(String(body.nextFireAt)).toMatch(/T0[23]:30:00\.000Z$/);
  });

  it("GET /metrics serves runs, the last run and its resources, customers by job status, API requests, retries and rejections", async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();

    expect(sample(text, "database_up")).toBe(1);
    expect(sample(text, 'runs{status="succeeded"}')).toBe(1);
    expect(sample(text, 'runs{status="failed"}')).toBe(0);
    expect(sample(text, "run_in_progress")).toBe(0);
    expect(sample(text, 'last_run_status{status="succeeded"}')).toBe(1);
    expect(sample(text, 'last_run_status{status="failed"}')).toBe(0);
    expect(sample(text, "last_run_complete")).toBe(0);
    // Each resource the run synced, by outcome, and nothing else: customers partial (a record
    // was rejected); services and jobs complete (the simulator derives them from the customers,
    // and every job lookup answers).
    const outcomes = text
      .split("\n")
      .filter((line) => line.startsWith("elements_sync_last_run_resource_outcome{"));
    expect(outcomes.sort()).toEqual([
      'elements_sync_last_run_resource_outcome{resource="customers",outcome="partial"} 1',
      'elements_sync_last_run_resource_outcome{resource="jobs",outcome="complete"} 1',
      'elements_sync_last_run_resource_outcome{resource="services",outcome="complete"} 1',
    ]);
    const [run] = await db.query<{ started: number; finished: number }>(
      `SELECT extract(epoch FROM started_at)::float8 AS started,
              extract(epoch FROM finished_at)::float8 AS finished FROM sync_runs`,
    );
    expect(sample(text, "last_run_start_timestamp_seconds")).toBeCloseTo(run?.started ?? 0, 3);
    expect(sample(text, "last_run_finish_timestamp_seconds")).toBeCloseTo(run?.finished ?? 0, 3);
    expect(sample(text, "last_run_duration_seconds")).toBeCloseTo(
      (run?.finished ?? 0) - (run?.started ?? 0),
      3,
    );
    expect(sample(text, "last_success_timestamp_seconds")).toBeCloseTo(run?.started ?? 0, 3);

    const byStatus = await db.query<{ job_status: number; label: string; n: number }>(
      `SELECT c.job_status, s.label, count(*)::int AS n FROM customers c
       JOIN job_status_codes s ON s.code = c.job_status GROUP BY 1, 2`,
    );
    expect(byStatus.reduce((sum, row) => sum + row.n, 0)).toBe(30);
    for (const row of byStatus) {
      expect(sample(text, `customers{job_status="${row.job_status}",label="${row.label}"}`)).toBe(
        row.n,
      );
    }

    const answered = (status: number) =>
      simulator.requests.filter((r) => r.path.endsWith("/batch") && r.status === status).length;
    expect(sample(text, 'api_requests_total{status="503"}')).toBe(1);
    expect(sample(text, 'api_requests_total{status="200"}')).toBe(answered(200));
    expect(sample(text, 'api_retries_total{kind="retry"}')).toBe(1);
    expect(sample(text, "rejected_records_total")).toBe(1);
    expect(sample(text, 'runs_finished_total{status="succeeded"}')).toBe(1);
    expect(sample(text, "next_fire_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000);
    // Node's own process metrics come along.
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it("does not count a --customer run as the last success: it refreshes one customer, not the snapshot", async () => {
    const before = sample(
      await (await fetch(`${base}/metrics`)).text(),
      "last_success_timestamp_seconds",
    );
    const [first] = customers as { id: string }[];
    const single = await runCli(
      ["sync", "--customer", first?.id ?? "", "--no-migrate"],
      simulatorEnv(db.url, simulator.url),
    );
    expect(single.code).toBe(0);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sample(text, 'runs{status="succeeded"}')).toBe(2);
    expect(sample(text, "last_success_timestamp_seconds")).toBe(before);
  });

  it("answers 404 elsewhere", async () => {
    expect((await fetch(`${base}/`)).status).toBe(404);
  });

  it("GET /healthz answers 503 once the database is gone; the worker keeps running and stops cleanly", async () => {
    // Drop it under the running worker: its connections are terminated until the drop wins.
    const admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await admin.connect();
    try {
      const dropping = db.drop().then(() => (dropped = true));
      while (!dropped) {
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
          [db.name],
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await dropping;
    } finally {
      await admin.end();
    }
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "unavailable", database: "unreachable" });
    // What is down, never the database's name, address or user: those go to the log.
    const url = new URL(db.url);
    for (const secret of [db.name, url.hostname, url.port, url.username]) {
      expect(JSON.stringify(body)).not.toContain(secret);
    }
    expect(worker.logs()).toContainEqual(
      expect.objectContaining({
        msg: "health check: the database cannot be read",
        err: expect.stringContaining("does not exist") as string,
      }),
    );

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(sample(metrics, "database_up")).toBe(0);
    expect(sample(metrics, 'runs{status="succeeded"}')).toBeUndefined();

    const sent = performance.now();
    worker.child.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect((exit.at - sent) / 1000).toBeLessThan(10);
  });
});
