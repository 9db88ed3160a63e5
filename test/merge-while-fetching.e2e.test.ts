// A run merges each batch of pages as it arrives, in one transaction that stays open as
// long as the fetch. Meanwhile readers must not wait for it: BI queries, `status`,
// `/metrics` and `/healthz` answer from the last committed run, and see none of the run
// in progress until it commits.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { freePort, runCli, simulatorEnv, spawnCli, type CliProcess } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { expectInvariants } from "./support/invariants.ts";
import { sampleCustomers } from "./support/harness.ts";

const PAGE_SIZE = 10;
/** Ends a reader's statement that waits on a lock instead of hanging the test. */
const READER_GUARD_MS = 30_000;

let simulator: Simulator;
let db: TestDatabase;
let worker: CliProcess | undefined;

beforeAll(async () => {
  simulator = await startSimulator({ customers: 0 });
  db = await createTestDatabase("es_mwf");
});

afterAll(async () => {
  worker?.child.kill("SIGKILL");
  await worker?.exited;
  await simulator.close();
  await db.drop();
});

/** A reader's session, as a BI tool or a report would open one. */
async function reader<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`SET statement_timeout = ${READER_GUARD_MS}`);
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe("a run in progress", () => {
  it("holds its merged batches in its own transaction; readers, status, /metrics and /healthz do not wait for it", async () => {
    const env = { ...simulatorEnv(db.url, simulator.url), ELEMENTS_PAGE_SIZE: String(PAGE_SIZE) };
    const customers = sampleCustomers(40);
    simulator.setCustomers(customers);
    expect((await runCli(["sync"], env)).code).toBe(0);

    // Every customer's status changes; the second run is held at its page 3.
    const changed = customers.map((c) => ({ ...c, jobStatus: c.jobStatus === 2 ? 3 : 2 }));
    simulator.setCustomers(changed);
    let reached!: () => void;
    let release!: () => void;
    const atPage3 = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    simulator.onCustomersRequest(async (request) => {
      if (request.pageIndex !== 3) return undefined;
      reached();
      await released;
      return undefined;
    });
    const port = await freePort();
    worker = spawnCli(["start"], {
      ...env,
      SYNC_CRON: "30 4 * * *",
      SYNC_ON_START: "true",
      HTTP_PORT: String(port),
      ELEMENTS_CONCURRENCY: "1",
    });
    try {
      await atPage3;
      // Pages 1 and 2 are merged: the run's transaction has written customers.
      await expect
        .poll(
          () =>
            db.query(
              `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE a.datname = current_database() AND a.application_name = 'elements-sync'
                 AND l.relation = 'customer_status_history'::regclass
                 AND l.mode = 'RowExclusiveLock' AND l.granted`,
            ),
          { timeout: 30_000 },
        )
        .toHaveLength(1);

      // BI queries answer, from the last committed run: no status has changed yet.
      await reader(async (client) => {
        const { rows: statuses } = await client.query<{ id: string; job_status: number }>(
          "SELECT customer_id AS id, job_status FROM reporting.customers ORDER BY customer_id",
        );
        expect(statuses).toEqual(
          [...customers]
            .sort((a, b) => (a.id < b.id ? -1 : 1))
            .map((c) => ({ id: c.id, job_status: c.jobStatus })),
        );
        const { rows: changes } = await client.query(
          "SELECT 1 FROM reporting.job_status_changes WHERE changed_at > now() - interval '1 day' AND previous_job_status IS NOT NULL",
        );
        expect(changes).toEqual([]);
        const { rows: at } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM reporting.customers_at(now())",
        );
        expect(at[0]?.n).toBe(40);
        const { rows: runs } = await client.query<{ status: string }>(
          "SELECT status FROM reporting.sync_runs ORDER BY run_id",
        );
        expect(runs.map((r) => r.status)).toEqual(["succeeded", "running"]);
      });

      const status = await runCli(["status", "--json"], env);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain('"running"');

      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^elements_sync_run_in_progress 1$/m);
    } finally {
      release();
    }

    // The run commits whole: every status changed at once.
    await expect
      .poll(() => db.query("SELECT status FROM sync_runs ORDER BY id"), { timeout: 30_000 })
      .toEqual([{ status: "succeeded" }, { status: "succeeded" }]);
    const [counts] = await db.query<{ changed: number }>(
      `SELECT count(*)::int AS changed FROM customer_status_history
       WHERE opened_by_run_id = 2 AND NOT removed`,
    );
    expect(counts?.changed).toBe(40);
    await expectInvariants(db);
  });
});
