// Run outcomes: narrowing a summary to the outcome a test expects, and running a sync that
// checks the history invariants afterwards, as every end-to-end test must.
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
