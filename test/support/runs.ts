// Run outcomes: narrowing a summary to the outcome a test expects, and running a sync that
// checks the history invariants afterwards, as every end-to-end test must.
import { SYNC_LOCK_RELATION } from "../../src/sync/lock.ts";
import type { RunSummary } from "../../src/sync/sync.ts";
import type { TestDatabase } from "./database.ts";
import type { Harness } from "./harness.ts";
import { expectInvariants } from "./invariants.ts";

export type SucceededRun = Extract<RunSummary, { status: "succeeded" }>;
export type FailedRun = Extract<RunSummary, { status: "failed" }>;

export function succeeded(summary: RunSummary): SucceededRun {
  if (summary.status !== "succeeded") throw new Error(`run failed: ${summary.error}`);
  return summary;
}

export function failed(summary: RunSummary): FailedRun {
  if (summary.status !== "failed") throw new Error(`run ${summary.runId} did not fail`);
  return summary;
}

/** One run, whatever its outcome, then the invariants. */
export async function syncChecked(
  h: Harness,
  options?: Parameters<Harness["sync"]>[0],
): Promise<RunSummary> {
  const summary = await h.sync(options);
  await expectInvariants(h.db);
  return summary;
}

/** One run that must succeed, then the invariants. */
export async function syncOk(
  h: Harness,
  options?: Parameters<Harness["sync"]>[0],
): Promise<SucceededRun> {
  return succeeded(await syncChecked(h, options));
}

/** The run's sync_runs row, every column. */
export async function runRow(
  db: TestDatabase,
  runId: number | undefined,
): Promise<Record<string, unknown> | undefined> {
  const [row] = await db.query("SELECT * FROM sync_runs WHERE id = $1", [runId]);
  return row;
}

/** Whether some session holds the run lock (src/sync/lock.ts) in the test database. */
export async function syncLockHeld(db: TestDatabase): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM pg_locks
     WHERE locktype = 'relation' AND granted AND mode = 'ExclusiveLock'
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND relation = to_regclass($1)`,
    [SYNC_LOCK_RELATION],
  );
  return rows.length > 0;
}
