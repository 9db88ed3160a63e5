// The sync lock against a worker cut off from the database. The lock's session ends after
// the database timeout of silence, so a partitioned worker frees the database for the next
// run in seconds (here) or minutes (by default), not after the server's TCP keepalive; a
// live worker keeps its lock with heartbeats however long its run.
import { afterEach, describe, expect, inject, it } from "vitest";
import { openDatabase, type Database } from "../src/db.ts";
import { RunInProgressError } from "../src/sync/lock.ts";
import { runSync, type RunSummary } from "../src/sync/sync.ts";
import { expectDataMatches, snapshotData } from "./support/data.ts";
import { captureLogs, openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed, syncLockHeld as lockHeldIn } from "./support/runs.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

/** The database timeout of every worker here: the lock's session ends after this silence. */
const TIMEOUT_MS = 1_500;

const PAGE_SIZE = 5;

const HEARTBEAT_FAILED =
  "the sync lock's connection failed its heartbeat: another run may take over the database, and this run will then not merge";

let proxy: TcpProxy | undefined;
let second: Database | undefined;
afterEach(async () => {
  proxy?.resume();
  await second?.close();
  await proxy?.close();
  proxy = undefined;
  second = undefined;
});

/** Whether some session holds the sync lock in the test database. */
function syncLockHeld(h: Harness): Promise<boolean> {
  return lockHeldIn(h.db);
}

/**
 * Another worker's sync against the same database and API, on a direct connection: the
 * database as a second replica (or the next cron fire) would see it.
 */
function secondWorker(h: Harness) {
  const db = (second = openDatabase(h.db.url, { queryTimeoutMs: TIMEOUT_MS }));
  const { logger, lines } = captureLogs();
  return {
    logs: lines,
    sync: () =>
      runSync({ db, client: h.client, log: logger }, { pageSize: PAGE_SIZE, concurrency: 1 }),
  };
}

/** Syncs until the lock is granted (every refusal must be for the lock); returns the run. */
async function syncWhenLockFree(
  sync: () => Promise<RunSummary>,
  deadlineMs: number,
): Promise<{ run: RunSummary; refusals: number }> {
  const deadline = performance.now() + deadlineMs;
  let refusals = 0;
  for (;;) {
    try {
      return { run: await sync(), refusals };
    } catch (error) {
      if (!(error instanceof RunInProgressError) || performance.now() > deadline) throw error;
      refusals += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A gate the simulator's answer to customers page `pageIndex` waits at, once. */
function holdPage(h: Harness, pageIndex: number) {
  let reached!: () => void;
  let open!: () => void;
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  let held = false;
  h.simulator.onCustomersRequest(async (request) => {
    if (held || request.pageIndex !== pageIndex || request.customerIds !== undefined) return;
    held = true;
    reached();
    await opened;
    return undefined;
  });
  return {
    reached: reachedPromise,
    open: () => {
      open();
    },
  };
}

describe("the sync lock", () => {
  it("of a worker cut off from the database passes to the next run within a few timeouts, and the cut-off run never merges", async () => {
    const p = (proxy = await startTcpProxy(inject("adminDatabaseUrl")));
    const customers = sampleCustomers(30);
    const h = await openHarness({
      customers,
      pageSize: PAGE_SIZE,
      concurrency: 1,
      simulator: { latencyMs: 20 },
      databaseUrlFor: p.route,
      queryTimeoutMs: TIMEOUT_MS,
      // Page 3 is held while the database is cut off; the API client must wait for it.
      timeoutMs: 30_000,
    });
    const gate = holdPage(h, 3);
    const runningA = h.sync();
    await gate.reached;
    // Pages 1 and 2 staged: A's connections are idle, its lock is held, page 3 is awaited.
    await expect
      .poll(async () => (await h.db.query("SELECT 1 FROM staging_customers")).length)
      .toBe(2 * PAGE_SIZE);
    expect(await syncLockHeld(h)).toBe(true);
    const [runA] = await h.db.query<{ id: number }>(
      "SELECT id FROM sync_runs WHERE status = 'running'",
    );
    expect(runA).toBeDefined();

    p.stall();
    const stalledAt = performance.now();
    const b = secondWorker(h);
    const { run: runB, refusals } = await syncWhenLockFree(b.sync, 20_000);
    const waitedMs = performance.now() - stalledAt;
    // Refused while A's session was alive, then granted: after the server ended it (a
    // timeout after A's last heartbeat), far from the two hours of TCP keepalive.
    expect(refusals).toBeGreaterThan(0);
    expect(waitedMs).toBeLessThan(6 * TIMEOUT_MS);
    expect(runB).toMatchObject({ status: "succeeded", complete: true, customersAdded: 30 });
    expect(
      b.logs.find(
        (line) => line.msg === "marked runs left running by a stopped process as abandoned",
      ),
    ).toMatchObject({ runIds: [runA?.id] });
    await expectDataMatches(h.db, customers);
    const afterB = await snapshotData(h.db);

    // A's network comes back: it fetches the rest, but its merge is refused.
    p.resume();
    gate.open();
    const finishedA = await runningA;
    expect(finishedA).toMatchObject({
      runId: runA?.id,
      status: "failed",
      error: `Run ${runA?.id} lost the run lock (its database session ended) and another run took over the database, so it was not merged.`,
    });
    expect(h.logs.some((line) => line.msg === HEARTBEAT_FAILED && line.level === 40)).toBe(true);
    const [rowA] = await h.db.query("SELECT status, error FROM sync_runs WHERE id = $1", [
      runA?.id,
    ]);
    // B could only guess why A's row was left running; A, back, records what happened.
    expect(rowA).toEqual({ status: "failed", error: failed(finishedA).error });
    expect(await snapshotData(h.db)).toEqual(afterB);
    expect(await syncLockHeld(h)).toBe(false);
    await expectInvariants(h.db);
  });

  it("of a live worker holds through a run lasting several timeouts", async () => {
    const customers = sampleCustomers(30);
    const h = await openHarness({
      customers,
      pageSize: PAGE_SIZE,
      concurrency: 1,
      // Six pages one after another: four timeouts of fetching, the lock connection idle.
      simulator: { latencyMs: 1_000 },
      queryTimeoutMs: TIMEOUT_MS,
    });
    const startedAt = performance.now();
    const finished = { value: false };
    const runningA = h.sync().finally(() => {
      finished.value = true;
    });
    await expect.poll(() => syncLockHeld(h)).toBe(true);
    // Without heartbeats the lock's session would end a timeout after the lock was taken.
    await new Promise((resolve) => setTimeout(resolve, 2 * TIMEOUT_MS));
    await expect(secondWorker(h).sync()).rejects.toThrow(RunInProgressError);
    const samples: { atMs: number; held: boolean }[] = [];
    while (!finished.value) {
      samples.push({ atMs: performance.now() - startedAt, held: await syncLockHeld(h) });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const runA = await runningA;
    expect(runA).toMatchObject({ status: "succeeded", complete: true, customersAdded: 30 });
    expect(runA.durationMs).toBeGreaterThan(3 * TIMEOUT_MS);
    // The last sample may have raced the release.
    const whileRunning = samples.slice(0, -1);
    expect(whileRunning.filter((sample) => !sample.held)).toEqual([]);
    expect(whileRunning.at(-1)?.atMs).toBeGreaterThan(3 * TIMEOUT_MS);
    await expectDataMatches(h.db, customers);
    await expectInvariants(h.db);
    expect(await syncLockHeld(h)).toBe(false);
    // Heartbeats stop with the release: one sent on the discarded connection would fail.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS));
    expect(h.logs.some((line) => line.msg === HEARTBEAT_FAILED)).toBe(false);
  });
});
