// A `sync` process killed outright (SIGKILL: no handler runs, nothing is recorded) while it
// fetches and while it merges. The killed run must have changed nothing but its own
// sync_runs row and staging; the next run marks it abandoned, drops its staging and ends
// with the source exactly.
import { afterEach, describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { runCli, simulatorEnv, spawnCli, type CliProcess } from "./support/cli.ts";
import {
  changedSource,
  createHarness,
  expectDataMatches,
  holdTable,
  sampleCustomers,
  snapshotData,
  waitForWorkerBlocked,
  type Harness,
} from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

const ABANDONED = {
  status: "abandoned",
  error: "the process running it stopped before the run finished",
};

let harness: Harness | undefined;
let child: CliProcess | undefined;
afterEach(async () => {
  if (child?.child.exitCode === null && child.child.signalCode === null)
    child.child.kill("SIGKILL");
  await child?.exited;
  await harness?.close();
  harness = undefined;
  child = undefined;
});

interface Rig {
  h: Harness;
  source: SimulatedCustomer[];
  before: Record<string, unknown[]>;
  env: Record<string, string>;
}

/** One good run of 30 customers done, a changed source served, pages of 5 taking 100 ms. */
async function rig(): Promise<Rig> {
  const customers = sampleCustomers(30);
  const h = (harness = await createHarness({
    customers,
    pageSize: 5,
    simulator: { latencyMs: 100 },
  }));
  expect(await h.sync()).toMatchObject({ status: "succeeded", customersAdded: 30 });
  const source = changedSource(customers);
  await h.serve(source);
  const env = {
    ...simulatorEnv(h.db.url, h.simulator.url),
    ELEMENTS_PAGE_SIZE: "5",
    ELEMENTS_CONCURRENCY: "1",
  };
  return { h, source, env, before: await snapshotData(h.db) };
}

async function runningRunId(h: Harness): Promise<number | undefined> {
  const [row] = await h.db.query<{ id: number }>(
    "SELECT id FROM sync_runs WHERE status = 'running'",
  );
  return row?.id;
}

async function kill(process: CliProcess): Promise<void> {
  process.child.kill("SIGKILL");
  expect(await process.exited).toMatchObject({ code: null, signal: "SIGKILL" });
}

/** Resolves once no worker session in the test database is in a statement or transaction. */
async function workerSessionsSettled(h: Harness): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await h.db.query(
            `SELECT 1 FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'elements-sync'
               AND state <> 'idle'`,
          )
        ).length,
      { timeout: 10_000 },
    )
    .toBe(0);
}

async function stagedRows(h: Harness, runId: number): Promise<number> {
  const [row] = await h.db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM staging_customers WHERE run_id = $1)::int
          + (SELECT count(*) FROM staging_tenants WHERE run_id = $1)::int AS n`,
    [runId],
  );
  return row?.n ?? 0;
}

describe("a sync process killed", () => {
  it("while fetching: the next run (CLI) marks it abandoned, drops its staging and converges", async () => {
    const { h, env, before, source } = await rig();
    const process = (child = spawnCli(["sync", "--no-migrate"], env));
    await expect.poll(() => runningRunId(h), { timeout: 20_000 }).toBeDefined();
    const runId = (await runningRunId(h)) ?? 0;
    await expect.poll(() => stagedRows(h, runId), { timeout: 20_000 }).toBeGreaterThan(0);
    await kill(process);

    // Killed mid-fetch: its row still says running, its pages are still staged, and the
    // data is as the previous run left it.
    expect(await runningRunId(h)).toBe(runId);
    expect(await stagedRows(h, runId)).toBeGreaterThan(0);
    expect(await snapshotData(h.db)).toEqual(before);

    const next = await runCli(["sync", "--no-migrate"], env);
    expect(next.code).toBe(0);
    expect(next.stdout).toMatch(/^run \d+ succeeded in .*: 30 customers \(complete\)/);
    const [row] = await h.db.query("SELECT status, error FROM sync_runs WHERE id = $1", [runId]);
    expect(row).toEqual(ABANDONED);
    expect(await stagedRows(h, runId)).toBe(0);
    await expectDataMatches(h.db, source);
    await expectInvariants(h.db);
  });

  it("while merging: its transaction rolls back whole; the next run marks it abandoned and converges", async () => {
    const { h, env, before, source } = await rig();
    // Held at the merge's write of tenants: customers and history are already written
    // inside its transaction by then.
    const lock = await holdTable(h.db, "tenants");
    let runId: number | undefined;
    try {
      const process = (child = spawnCli(["sync", "--no-migrate"], env));
      await waitForWorkerBlocked(h.db);
      const [waiting] = await h.db.query<{ query: string; in_transaction: boolean }>(
        `SELECT query, xact_start IS NOT NULL AS in_transaction FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      expect(waiting?.query).toMatch(/UPDATE tenants/);
      expect(waiting?.in_transaction).toBe(true);
      runId = await runningRunId(h);
      await kill(process);
    } finally {
      await lock.release();
    }
    // The server ends the dead client's session, rolling its transaction back.
    await workerSessionsSettled(h);
    expect(await snapshotData(h.db)).toEqual(before);
    expect(runId).toBeDefined();

    const next = await h.sync();
    expect(next).toMatchObject({
      status: "succeeded",
      complete: true,
      customersAdded: 2,
      customersRemoved: 2,
      statusChanges: 3,
    });
    const [row] = await h.db.query("SELECT status, error FROM sync_runs WHERE id = $1", [runId]);
    expect(row).toEqual(ABANDONED);
    expect(await stagedRows(h, runId ?? 0)).toBe(0);
    await expectDataMatches(h.db, source);
    await expectInvariants(h.db);
  });
});
