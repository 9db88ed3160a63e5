// The database connection failing under a run: connections cut or stalled (a half-open
// connection, a partition) while pages are fetched and while the merge runs, through a TCP
// proxy between the worker and PostgreSQL. The test's own queries go direct.
import { afterEach, describe, expect, inject, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import type { RunSummary } from "../src/sync/sync.ts";
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
import { failed, runRow } from "./support/runs.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

/** Short, so a stall that outlasts it fails the run in seconds; the default is 10 minutes. */
const QUERY_TIMEOUT_MS = 1_000;
const TIMED_OUT = `The database did not answer within ${QUERY_TIMEOUT_MS} ms; closed the connection.`;

let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

interface Rig {
  h: Harness;
  proxy: TcpProxy;
  /** What the faulted run would merge; the next good run must end with exactly this. */
  source: SimulatedCustomer[];
  /** customers, tenants and history after the first run, before the faulted one. */
  before: DataSnapshot;
}

/**
 * A database with one good run of 30 customers behind it and a changed source in front, so
 * a faulted run would have changes, removals and additions to merge. Customers pages take
 * 100 ms, one at a time: a run fetches for about 0.7 s.
 */
async function rig(queryTimeoutMs = 5_000): Promise<Rig> {
  const p = (proxy = await startTcpProxy(inject("adminDatabaseUrl")));
  const customers = sampleCustomers(30);
  const h = await openHarness({
    customers,
    pageSize: 5,
    concurrency: 1,
    simulator: { latencyMs: 100 },
    databaseUrlFor: p.route,
    queryTimeoutMs,
  });
  return { h, proxy: p, ...(await serveChangedSource(h, customers)) };
}

/** Resolves once the simulator has answered `count` customers pages since `from` requests. */
async function pagesServed(h: Harness, count: number, from = h.simulator.requests.length) {
  await expect
    .poll(
      () =>
        h.simulator.requests
          .slice(from)
          .filter((r) => r.pageIndex !== undefined && r.status === 200).length,
      { interval: 10 },
    )
    .toBeGreaterThanOrEqual(count);
}

/**
 * Starts a run and does `fault` once it is fetching (two pages staged or on their way) or
 * merging (held on tenants until then).
 */
async function faultedRun(
  { h }: Rig,
  when: "fetching" | "merging",
  fault: () => void,
): Promise<{ running: Promise<RunSummary> }> {
  if (when === "merging") {
    const { started } = await duringMerge(h.db, "tenants", () => h.sync(), fault);
    return { running: started };
  }
  const running = h.sync();
  await pagesServed(h, 2);
  fault();
  return { running };
}

/** The next run, with the network healthy, ends with the source exactly. */
async function expectNextRunConverges({ h, source }: Rig): Promise<void> {
  // Sessions the proxy held open end once it lets their closes through; until then one
  // may hold the sync lock or still be running a statement sent before the fault.
  await workerSessionsSettled(h.db);
  expect(await h.sync()).toMatchObject(CHANGED_SOURCE_RUN);
  await expectDataMatches(h.db, source);
  await expectInvariants(h.db);
}

/** The run failed saying `error`, its row says so too, and the data is as before it. */
async function expectFailedChangingNothing(
  { h, before }: Rig,
  summary: RunSummary,
  error: string | RegExp,
): Promise<void> {
  const run = failed(summary);
  if (typeof error === "string") expect(run.error).toBe(error);
  else expect(run.error).toMatch(error);
  expect(await runRow(h.db, run.runId)).toMatchObject({ status: "failed", error: run.error });
  expect(await snapshotData(h.db)).toEqual(before);
  await expectInvariants(h.db);
}

describe("connections cut", () => {
  it("while pages are fetched: the run fails, recorded with the reason, and nothing changes", async () => {
    const r = await rig();
    const { running } = await faultedRun(r, "fetching", () => {
      r.proxy.cut();
    });
    // A FIN or a reset, whichever the worker's socket sees first.
    await expectFailedChangingNothing(
      r,
      await running,
      /^Lost the database connection while staging pages: (Connection terminated unexpectedly|read ECONNRESET)$/,
    );
    await expectNextRunConverges(r);
  });

  it("during the merge: the merge is rolled back whole and the run recorded failed", async () => {
    const r = await rig();
    const { running } = await faultedRun(r, "merging", () => {
      r.proxy.cut();
    });
    await expectFailedChangingNothing(
      r,
      await running,
      /^(Connection terminated unexpectedly|read ECONNRESET)$/,
    );
    await expectNextRunConverges(r);
  });

  it("with new connections refused too: the same process's next run records the failure with its reason", async () => {
    const r = await rig();
    const { h } = r;
    const { running } = await faultedRun(r, "fetching", () => {
      r.proxy.refuse(true);
      r.proxy.cut();
    });
    const run = failed(await running);
    // Nothing could be recorded: the row says running, the staged pages are still there.
    expect(await runRow(h.db, run.runId)).toMatchObject({ status: "running", error: null });
    expect(
      h.logs.some(
        (line) => line.msg === "could not record the failed run" && line.runId === run.runId,
      ),
    ).toBe(true);
    expect(await snapshotData(h.db)).toEqual(r.before);

    r.proxy.refuse(false);
    await expectNextRunConverges(r);
    // Not `abandoned`: the process did not go away, and knows why its run failed.
    expect(await runRow(h.db, run.runId)).toMatchObject({
      status: "failed",
      error: `${run.error} (recorded by a later run: the database could not be reached when this one ended)`,
    });
  });
});

describe("connections stalled", () => {
  it("while pages are fetched, then resumed: the run waits and finishes correctly", async () => {
    const r = await rig();
    const { h } = r;
    const { running } = await faultedRun(r, "fetching", () => {
      r.proxy.stall();
    });
    const stagedAtStall = await stagedCount(h);
    // Pages keep arriving from the API, but none reaches staging while the stall lasts.
    await pagesServed(h, 2);
    expect(await stagedCount(h)).toBe(stagedAtStall);
    r.proxy.resume();
    const run = await running;
    expect(run).toMatchObject({ status: "succeeded", complete: true, customersAdded: 2 });
    await expectDataMatches(h.db, r.source);
    await expectInvariants(h.db);
  });

  it("during the merge, then resumed: the merge commits whole", async () => {
    const r = await rig();
    const { h } = r;
    const { running } = await faultedRun(r, "merging", () => {
      r.proxy.stall();
    });
    // The merge's statements wait in the proxy; nothing of it is visible until it commits.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await snapshotData(h.db)).toEqual(r.before);
    r.proxy.resume();
    expect(await running).toMatchObject(CHANGED_SOURCE_RUN);
    await expectDataMatches(h.db, r.source);
    await expectInvariants(h.db);
  });

  it("while pages are fetched, for longer than the query timeout: the run fails and says why", async () => {
    const r = await rig(QUERY_TIMEOUT_MS);
    const { running } = await faultedRun(r, "fetching", () => {
      r.proxy.stall();
    });
    await expectFailedChangingNothing(r, await running, TIMED_OUT);
    r.proxy.resume();
    await expectNextRunConverges(r);
  });

  it("during the merge, for longer than the query timeout: nothing is merged, the run is recorded failed", async () => {
    const r = await rig(QUERY_TIMEOUT_MS);
    const { running } = await faultedRun(r, "merging", () => {
      r.proxy.stall();
    });
    await expectFailedChangingNothing(r, await running, TIMED_OUT);
    r.proxy.resume();
    await expectNextRunConverges(r);
  });
});

async function stagedCount(h: Harness): Promise<number> {
  const [row] = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM staging_customers");
  return row?.n ?? 0;
}
