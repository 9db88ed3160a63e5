// A `sync` process killed outright (SIGKILL: no handler runs, nothing is recorded) while it
// fetches and while it merges. The killed run must have changed nothing but its own
// sync_runs row and staging; the next run marks it abandoned, drops its staging and ends
// with the source exactly.
import { afterEach, describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { runCli, simulatorEnv, spawnCli, type CliProcess } from "./support/cli.ts";
import { expectDataMatches, snapshotData, type DataSnapshot } from "./support/data.ts";
import {
  CHANGED_SOURCE_RUN,
  duringMerge,
  openHarness,
  sampleCustomers,
  serveChangedSource,
  workerSessionsSettled,
  type Harness,
} from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { runRow } from "./support/runs.ts";

const ABANDONED = {
  status: "abandoned",
  error:
    "its process stopped, or lost its connection to the database, before recording how the run ended",
};

let child: CliProcess | undefined;
afterEach(async () => {
  if (child?.child.exitCode === null && child.child.signalCode === null)
    child.child.kill("SIGKILL");
  await child?.exited;
  child = undefined;
});

interface Rig {
  h: Harness;
  source: SimulatedCustomer[];
  before: DataSnapshot;
  env: Record<string, string>;
}

/** One good run of 30 customers done, a changed source served, pages of 5 taking 100 ms. */
async function rig(): Promise<Rig> {
  const customers = sampleCustomers(30);
  const h = await openHarness({
    customers,
    pageSize: 5,
    simulator: { latencyMs: 100 },
  });
  const env = {
    ...simulatorEnv(h.db.url, h.simulator.url),
    ELEMENTS_PAGE_SIZE: "5",
    ELEMENTS_CONCURRENCY: "1",
  };
  return { h, env, ...(await serveChangedSource(h, customers)) };
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

async function stagedRows(h: Harness, runId: number): Promise<number> {
  const [row] = await h.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM staging_customers WHERE run_id = $1",
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
    expect(await runRow(h.db, runId)).toMatchObject(ABANDONED);
    expect(await stagedRows(h, runId)).toBe(0);
    await expectDataMatches(h.db, source);
    await expectInvariants(h.db);
  });

  it("while merging: its transaction rolls back whole; the next run marks it abandoned and converges", async () => {
    const { h, env, before, source } = await rig();
    // Held at the merge's write of tenants: customers and history are already written
    // inside its transaction by then.
    let runId: number | undefined;
    await duringMerge(
      h.db,
      "tenants",
      () => (child = spawnCli(["sync", "--no-migrate"], env)),
      async () => {
        const [waiting] = await h.db.query<{ query: string; in_transaction: boolean }>(
          `SELECT query, xact_start IS NOT NULL AS in_transaction FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        expect(waiting?.query).toMatch(/UPDATE "?tenants"?/);
        expect(waiting?.in_transaction).toBe(true);
        runId = await runningRunId(h);
        if (!child) throw new Error("unreachable");
        await kill(child);
      },
    );
    // The server ends the dead client's session, rolling its transaction back.
    await workerSessionsSettled(h.db);
    expect(await snapshotData(h.db)).toEqual(before);
    expect(runId).toBeDefined();

    expect(await h.sync()).toMatchObject(CHANGED_SOURCE_RUN);
    expect(await runRow(h.db, runId)).toMatchObject(ABANDONED);
    expect(await stagedRows(h, runId ?? 0)).toBe(0);
    await expectDataMatches(h.db, source);
    await expectInvariants(h.db);
  });
});
