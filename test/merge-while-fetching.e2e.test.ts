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
import { newCustomers, openHarness, sampleCustomers } from "./support/harness.ts";

const PAGE_SIZE = 100;
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
    // Enough pages that batches are merged before the last arrives (250 customers a batch).
    const customers = sampleCustomers(1000);
    simulator.setCustomers(customers);
    expect((await runCli(["sync"], env)).code).toBe(0);

    // Every customer's status changes; the second run is held at its page 7.
    const changed = customers.map((c) => ({ ...c, jobStatus: c.jobStatus === 2 ? 3 : 2 }));
    simulator.setCustomers(changed);
    let reached!: () => void;
    let release!: () => void;
    const atPage7 = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    simulator.onCustomersRequest(async (request) => {
      if (request.pageIndex !== 7) return undefined;
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
      await atPage7;
      // A batch of pages 1 to 6 is merged: the run's transaction has written history.
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
        expect(at[0]?.n).toBe(1000);
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
    expect(counts?.changed).toBe(1000);
    await expectInvariants(db);
  });
});

describe("a customer served again in a later batch of the same run", () => {
  it("is merged again from its last copy: what its first copy did is taken back, periods and counts", async () => {
    const customers = sampleCustomers(12);
    const h = await openHarness({ customers, pageSize: 5, concurrency: 1 });
    expect((await h.sync()).status).toBe("succeeded");
    const [x, y] = customers;
    if (!x || !y) throw new Error("unreachable");
    const other = (status: number) => (status === 6 ? 5 : 6);
    // Page 1 holds a first copy of x (status changed) and of y (unchanged); the last page
    // holds later copies: x back as it was, y with another status and another tenant list.
    const xFirst = { ...x, jobStatus: other(x.jobStatus) };
    const yLater = {
      ...y,
      jobStatus: other(y.jobStatus),
      tenants: [{ id: "only-tenant", name: "only" }],
    };
    await h.serve([xFirst, y, ...customers.slice(2), x, yLater]);
    // Every page merged as it comes: the later copies meet the earlier ones already merged.
    const run = await h.sync({ minMergeBatch: 1 });
    expect(run).toMatchObject({
      status: "succeeded",
      customersSeen: 12,
      customersAdded: 0,
      statusChanges: 1,
      complete: false,
    });
    const opened = await h.db.query(
      `SELECT customer_id, job_status FROM customer_status_history
       WHERE opened_by_run_id = $1 OR closed_by_run_id = $1 ORDER BY valid_from, id`,
      [run.runId],
    );
    // x: no period opened or closed by the run; y: its old period closed, one opened.
    expect(opened).toEqual([
      { customer_id: y.id, job_status: y.jobStatus },
      { customer_id: y.id, job_status: yLater.jobStatus },
    ]);
    const stored = await h.db.query(
      "SELECT id, job_status FROM customers WHERE id = ANY($1) ORDER BY id",
      [[x.id, y.id]],
    );
    expect(stored).toEqual(
      [
        { id: x.id, job_status: x.jobStatus },
        { id: y.id, job_status: yLater.jobStatus },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    // y's new tenant opened; its other tenants (listed by the first copy only) untouched,
    // as an incomplete run leaves tenants it did not see.
    const tenantPeriods = await h.db.query(
      `SELECT tenant_id, opened_by_run_id = $2 AS opened, closed_by_run_id = $2 AS closed
       FROM tenant_history WHERE customer_id = $1 AND $2 IN (opened_by_run_id, closed_by_run_id)`,
      [y.id, run.runId],
    );
    expect(tenantPeriods).toEqual([{ tenant_id: "only-tenant", opened: true, closed: null }]);
    await expectInvariants(h.db);
  });

  it("into an empty database, inserts each batch without comparing it, and stores what a compared merge stores", async () => {
    const customers = sampleCustomers(30);
    const [earlier] = newCustomers(1, 5, "earlier");
    if (!earlier) throw new Error("unreachable");
    // The same 30 customers into an empty database, and into one that already held another.
    const empty = await openHarness({ customers, pageSize: 5 });
    expect(await empty.sync({ minMergeBatch: 5 })).toMatchObject({ customersAdded: 30 });
    const held = await openHarness({ customers: [earlier], pageSize: 5 });
    await held.sync();
    await held.serve([earlier, ...customers]);
    const secondRun = held.logs.length;
    expect(await held.sync({ minMergeBatch: 5 })).toMatchObject({ customersAdded: 30 });

    const merged = (logs: Record<string, unknown>[]) =>
      logs.filter((line) => line.msg === "batch merged");
    expect(merged(empty.logs).length).toBeGreaterThan(1);
    expect(merged(empty.logs).every((line) => line.allNew === true)).toBe(true);
    const compared = merged(held.logs.slice(secondRun));
    expect(compared.length).toBeGreaterThan(1);
    expect(compared.some((line) => line.allNew === true)).toBe(false);
    const ids = customers.map((c) => c.id);
    expect(await storedContent(empty.db, ids)).toEqual(await storedContent(held.db, ids));
    await expectInvariants(empty.db);
  });

  it("in a first run, keeps none of the tenants only its earlier copy listed", async () => {
    const customers = sampleCustomers(8);
    const h = await openHarness({ customers, pageSize: 5, concurrency: 1 });
    const [x] = customers;
    if (!x) throw new Error("unreachable");
    const xLater = { ...x, tenants: [{ id: "later-tenant", name: "later" }] };
    await h.serve([...customers, xLater]);
    const run = await h.sync({ minMergeBatch: 1 });
    expect(run).toMatchObject({ status: "succeeded", customersAdded: 8, customersSeen: 8 });
    const tenants = await h.db.query("SELECT id FROM tenants WHERE customer_id = $1", [x.id]);
    expect(tenants).toEqual([{ id: "later-tenant" }]);
    const periods = await h.db.query(
      "SELECT count(*)::int AS n FROM tenant_history WHERE customer_id = $1",
      [x.id],
    );
    expect(periods).toEqual([{ n: 1 }]);
    await expectInvariants(h.db);
  });
});

/** What is stored of customers `ids`, their tenants and open periods, without times and run ids. */
async function storedContent(db: TestDatabase, ids: string[]) {
  const rows = (sql: string) => db.query(sql, [ids]);
  const noTimes = "'{id,first_seen_at,last_seen_at,valid_from,opened_by_run_id}'::text[]";
  return {
    customers: await rows(`SELECT to_jsonb(c) - 'first_seen_at' - 'last_seen_at' AS row
      FROM customers c WHERE id = ANY($1) ORDER BY id`),
    tenants: await rows(`SELECT to_jsonb(t) - 'first_seen_at' - 'last_seen_at' AS row
      FROM tenants t WHERE customer_id = ANY($1) ORDER BY customer_id, id`),
    ...Object.fromEntries(
      await Promise.all(
        ["customer_status_history", "customer_history", "tenant_history"].map(
          async (table) =>
            [
              table,
              await rows(`SELECT to_jsonb(h) - ${noTimes} AS row FROM ${table} h
                WHERE customer_id = ANY($1) ORDER BY to_jsonb(h) - ${noTimes}`),
            ] as const,
        ),
      ),
    ),
  };
}
