// The sync_runs row: every run has one from its start, and it ends succeeded, failed or
// abandoned with a reason. Other tables change only in a succeeded run's merge. The
// statements are in src/sql/runs.ts; this module decides what they record.
import type { ResourceRecord } from "../sql/resources.ts";
import type pg from "pg";
import { inTransaction, type Queryable } from "../db.ts";
import { errorMessage, SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { countRunChanges, type ChangeCounts } from "../sql/changes.ts";
import * as sql from "../sql/runs.ts";
import type { RunStatus } from "../sql/runs.ts";
import { clearAllStaging, clearStaging } from "../sql/staging.ts";

export type { RunningRun, RunStatus, StartedRun } from "../sql/runs.ts";
/** insertRun: call while holding the sync lock. */
export { findRunningRun, insertRun as startRun, readRunStatus } from "../sql/runs.ts";

export const RUN_STATUSES: readonly RunStatus[] = ["running", "succeeded", "failed", "abandoned"];

/**
 * The error of a run found `running` by the next run: no process held the run lock any
 * longer, and the run had not recorded how it ended. A process that comes back (a worker
 * that was cut off from the database) replaces it with the run's true outcome.
 */
export const ABANDONED_REASON =
  "its process stopped, or lost its connection to the database, before recording how the run ended";

/** The error of a run stopped by SIGTERM or SIGINT. */
export const INTERRUPTED = "interrupted";

/** What a run learned while fetching; recorded whether it succeeds or fails. */
export interface FetchProgress {
  apiTotalCount: number | null;
  pagesFetched: number;
  customersSeen: number;
  tenantsSeen: number;
  rejectedRecords: number;
  /** Fields outside the documented set the run met, sorted (source-records.ts). */
  newFields: string[];
}

export interface RunOutcome extends FetchProgress {
  complete: boolean;
  incompleteReason: string | null;
  /** Customers the mass-removal guard kept from being marked removed. */
  removalsWithheld: number;
  /** Something to look at although the run succeeded (the guard held removals back). */
  warning: string | null;
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
  /** What the run did with each resource it syncs, customers first. */
  resources: readonly ResourceRecord[];
}

/**
 * Locks the run's row in the run's transaction and checks that it is still running: if
 * this process lost its sync lock and another run marked this one abandoned, it must not merge.
 */
export async function claimRunForMerge(session: Queryable, runId: number): Promise<void> {
  const status = await sql.lockRunRow(session, runId);
  if (status === "abandoned") throw new SyncError(lostLockMessage(runId));
  if (status !== "running") {
    throw new SyncError(
      `Run ${runId} is ${status ?? "gone"}: another process took over the database during the run, so it was not merged.`,
    );
  }
}

/** Why a run another process marked abandoned (it had lost the run lock) did not merge. */
export function lostLockMessage(runId: number): string {
  return `Run ${runId} lost the run lock (its database session ended) and another run took over the database, so it was not merged.`;
}

/**
 * What a committed run changed, kind by kind. The run has succeeded whatever happens here:
 * a failure to read is logged, and the summary goes without the counts (null).
 */
export async function readChangeCounts(
  db: Queryable,
  runId: number,
  log: Logger,
): Promise<ChangeCounts | null> {
  try {
    return await countRunChanges(db, { runId });
  } catch (error) {
    log.warn({ err: errorMessage(error) }, "could not count the run's changes by kind");
    return null;
  }
}

/** In the run's transaction, so the row says succeeded exactly when the merge committed. */
export async function recordSuccess(
  session: Queryable,
  runId: number,
  outcome: RunOutcome,
): Promise<void> {
  await sql.markSucceeded(session, runId, {
    ...outcome,
    apiTotalCount: totalCountColumn(outcome.apiTotalCount),
    pagesFetched: countColumn(outcome.pagesFetched),
    customersSeen: countColumn(outcome.customersSeen),
    tenantsSeen: countColumn(outcome.tenantsSeen),
    rejectedRecords: countColumn(outcome.rejectedRecords),
  });
}

/**
 * Marks the run failed with what it had fetched (customers counted from staging too, which
 * is then dropped) and returns that progress. Leaves a run that succeeded or failed alone; a
 * run another process marked abandoned while this one was cut off from the database becomes
 * failed with its true reason, since its process did not go away.
 * Tries twice: when the database failed the run, the first connection the pool hands out
 * may have died of the same fault before the pool noticed; the second is a new one. Then,
 * in case what it had fetched is what the database refused, the failure alone.
 */
export async function recordFailure(
  pool: pg.Pool,
  runId: number,
  progress: FetchProgress,
  error: string,
): Promise<FetchProgress> {
  const message = storableText(error);
  try {
    return await recordFailureOnce(pool, runId, progress, message);
  } catch {
    try {
      return await recordFailureOnce(pool, runId, progress, message);
    } catch (failure) {
      // What the run had fetched stays in staging, for the next run to drop.
      await sql.markFailedBare(
        pool,
        runId,
        `${message} (its counts could not be recorded: ${storableText(errorMessage(failure))})`,
      );
      return progress;
    }
  }
}

async function recordFailureOnce(
  pool: pg.Pool,
  runId: number,
  progress: FetchProgress,
  error: string,
): Promise<FetchProgress> {
  return inTransaction(pool, async (session) => {
    const seen = await sql.markFailed(session, runId, {
      error,
      apiTotalCount: totalCountColumn(progress.apiTotalCount),
      pagesFetched: countColumn(progress.pagesFetched),
      rejectedRecords: countColumn(progress.rejectedRecords),
      newFields: progress.newFields,
      customersSeen: countColumn(progress.customersSeen),
      tenantsSeen: countColumn(progress.tenantsSeen),
    });
    await clearStaging(session, [runId]);
    return { ...progress, ...seen };
  });
}

/**
 * Failures this process could not record when their runs ended (the database was away),
 * kept to be written with their true reason when its next run holds the lock, rather than
 * have that run call them abandoned. One per worker or test rig; a `sync` process exits.
 */
export class UnrecordedFailures {
  readonly #failures = new Map<number, { progress: FetchProgress; error: string }>();

  add(runId: number, progress: FetchProgress, error: string): void {
    this.#failures.set(runId, { progress: { ...progress }, error });
  }

  /**
   * Call while holding the sync lock, before abandonStaleRuns. Returns the runs recorded;
   * one that still cannot be is kept for the next time (abandoned meanwhile, it is then
   * turned into the failure it was).
   */
  async record(pool: pg.Pool): Promise<number[]> {
    const recorded: number[] = [];
    for (const [runId, { progress, error }] of this.#failures) {
      const late = `${error} (recorded by a later run: the database could not be reached when this one ended)`;
      const done = await recordFailure(pool, runId, progress, late).then(
        () => true,
        () => false,
      );
      if (!done) continue;
      this.#failures.delete(runId);
      recorded.push(runId);
    }
    return recorded;
  }
}

/** Longest error text recorded; the rest of a longer one is cut off, and says so. */
const MAX_ERROR_LENGTH = 4_000;

/** A count as an integer column holds it: saturated, never a reason for the statement to fail. */
function countColumn(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return Math.min(Math.trunc(value), sql.MAX_INT4);
}

/** totalCount as its bigint column holds it: the API's number when it is one, else unknown. */
function totalCountColumn(value: number | null): number | null {
  return value !== null && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/**
 * Error text as PostgreSQL can store it: no NUL (text cannot hold it), no lone UTF-16
 * surrogate (the driver would write U+FFFD for it anyway), and of a bounded length.
 */
export function storableText(text: string): string {
  const clean = text.replaceAll("\u0000", "\\u0000").toWellFormed();
  return clean.length <= MAX_ERROR_LENGTH
    ? clean
    : `${clean.slice(0, MAX_ERROR_LENGTH)}… (cut off)`;
}

/**
 * Marks runs left `running` by a process that died as abandoned and drops everything
 * staged. Only safe while holding the sync lock: then no other run can be in progress.
 * Staging of runs that ended is dropped too: a statement a failed run sent into a broken
 * connection can still reach the server after the failure was recorded and staging cleared.
 */
export async function abandonStaleRuns(pool: pg.Pool): Promise<number[]> {
  return inTransaction(pool, async (session) => {
    const stale = await sql.abandonRunning(session, ABANDONED_REASON);
    await clearAllStaging(session);
    return stale;
  });
}

/** How many runs the database holds; 0 when it has no sync_runs table (never migrated). */
export async function countRuns(db: Queryable): Promise<number> {
  // Two statements: a query naming sync_runs fails to plan where the table does not exist.
  return (await sql.hasRunsTable(db)) ? sql.countRuns(db) : 0;
}

/** What the worker's metrics say of the runs; times in seconds since the Unix epoch. */
export interface RunTotals {
  byStatus: Record<RunStatus, number>;
  /** The newest run that ended, whatever its status. */
  lastFinished: {
    startedAt: number;
    finishedAt: number;
    status: RunStatus;
    complete: boolean;
    removalsWithheld: number;
  } | null;
  /**
   * Start of the newest succeeded full run (a --customer run refreshes one customer, not the
   * snapshot) whose removals the guard did not withhold: those are something to act on.
   */
  lastSuccessAt: number | null;
  /**
   * The mass-removal guard as it stands: only a complete run decides removals, so what the
   * latest one withheld stands until a later complete run applies or clears it; --customer,
   * incomplete and failed runs in between change nothing about it. 0 before any complete run.
   */
  removalsWithheld: number;
  /** Start of the newest complete run that succeeded and withheld nothing. */
  lastCompleteSuccessAt: number | null;
}

export async function readRunTotals(db: Queryable): Promise<RunTotals> {
  const [counts, last, guard] = await Promise.all([
    sql.countRunsByStatus(db),
    sql.readLastRun(db),
    sql.readGuard(db),
  ]);
  const byStatus: Record<RunStatus, number> = { running: 0, succeeded: 0, failed: 0, abandoned: 0 };
  for (const { status, runs } of counts) byStatus[status] = runs;
  const finished =
    last?.started != null && last.finished != null && last.status != null
      ? {
          startedAt: last.started,
          finishedAt: last.finished,
          status: last.status,
          complete: last.complete === true,
          removalsWithheld: last.removalsWithheld ?? 0,
        }
      : null;
  return {
    byStatus,
    lastFinished: finished,
    lastSuccessAt: last?.lastSuccess ?? null,
    removalsWithheld: guard?.withheld ?? 0,
    lastCompleteSuccessAt: guard?.lastCompleteSuccess ?? null,
  };
}
