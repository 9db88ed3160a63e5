// The sync_runs row: every run has one from its start, and it ends succeeded, failed or
// abandoned with a reason. Other tables change only in a succeeded run's merge.
// Times come from the database's clock, so runs on different hosts order correctly.
import type { PrismaClient, Queryable } from "../db.ts";
import { errorMessage, SyncError } from "../errors.ts";
import { clearAllStaging, clearStaging } from "./staging.ts";

export type RunStatus = "running" | "succeeded" | "failed" | "abandoned";

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

/** The run holding the database, for a message to whoever was refused. */
export interface RunningRun {
  id: number;
  startedAt: Date;
  scheduledFor: Date | null;
}

export interface StartedRun {
  id: number;
  /** Stamps everything the run changes; later than every earlier run's. */
  startedAt: Date;
}

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
}

/**
 * Call while holding the sync lock. started_at is whole milliseconds (what a JavaScript Date
 * holds, so it round-trips exactly into the merge) and always after the previous run's,
 * even if the database clock stepped back: history periods must never run backwards.
 */
export async function startRun(
  prisma: PrismaClient,
  customerFilter: string | null,
  scheduledFor: Date | null = null,
): Promise<StartedRun> {
  const [run] = await prisma.$queryRaw<StartedRun[]>`
    INSERT INTO sync_runs (customer_filter, scheduled_for, started_at)
    VALUES (
      ${customerFilter},
      ${scheduledFor}::timestamptz,
      greatest(
        date_trunc('milliseconds', clock_timestamp()),
        (SELECT max(started_at) + interval '1 millisecond' FROM sync_runs)
      )
    )
    RETURNING id, started_at AS "startedAt"`;
  if (!run) throw new Error("sync_runs insert returned no row");
  return run;
}

/**
 * Locks the run's row in the run's transaction and checks that it is still running: if
 * this process lost its sync lock and another run marked this one abandoned, it must not merge.
 */
export async function claimRunForMerge(session: Queryable, runId: number): Promise<void> {
  const { rows } = await session.query<{ status: RunStatus }>(
    "SELECT status FROM sync_runs WHERE id = $1 FOR UPDATE",
    [runId],
  );
  const status = rows[0]?.status;
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

export async function readRunStatus(
  prisma: PrismaClient,
  runId: number,
): Promise<RunStatus | undefined> {
  const [row] = await prisma.$queryRaw<{ status: RunStatus }[]>`
    SELECT status FROM sync_runs WHERE id = ${runId}::int`;
  return row?.status;
}

/** In the run's transaction, so the row says succeeded exactly when the merge committed. */
export async function recordSuccess(
  session: Queryable,
  runId: number,
  outcome: RunOutcome,
): Promise<void> {
  await session.query(
    `UPDATE sync_runs SET
       status = 'succeeded',
       finished_at = clock_timestamp(),
       complete = $2,
       incomplete_reason = $3,
       api_total_count = $4::bigint,
       pages_fetched = $5::int,
       customers_seen = $6::int,
       tenants_seen = $7::int,
       rejected_records = $8::int,
       customers_added = $9::int,
       customers_removed = $10::int,
       customers_restored = $11::int,
       status_changes = $12::int,
       removals_withheld = $13::int,
       warning = $14,
       new_fields = $15::text[]
     WHERE id = $1`,
    [
      runId,
      outcome.complete,
      outcome.incompleteReason,
      totalCountColumn(outcome.apiTotalCount),
      countColumn(outcome.pagesFetched),
      countColumn(outcome.customersSeen),
      countColumn(outcome.tenantsSeen),
      countColumn(outcome.rejectedRecords),
      outcome.customersAdded,
      outcome.customersRemoved,
      outcome.customersRestored,
      outcome.statusChanges,
      outcome.removalsWithheld,
      outcome.warning,
      outcome.newFields,
    ],
  );
}

/**
 * Marks the run failed with what it had fetched (counted from staging, which is then
 * dropped) and returns that progress. Leaves a run that succeeded or failed alone; a run
 * another process marked abandoned while this one was cut off from the database becomes
 * failed with its true reason, since its process did not go away.
 * Tries twice: when the database failed the run, the first connection the pool hands out
 * may have died of the same fault before the pool noticed; the second is a new one. Then,
 * in case what it had fetched is what the database refused, the failure alone.
 */
export async function recordFailure(
  prisma: PrismaClient,
  runId: number,
  progress: FetchProgress,
  error: string,
): Promise<FetchProgress> {
  const message = storableText(error);
  try {
    return await recordFailureOnce(prisma, runId, progress, message);
  } catch {
    try {
      return await recordFailureOnce(prisma, runId, progress, message);
    } catch (failure) {
      await recordBareFailure(
        prisma,
        runId,
        `${message} (its counts could not be recorded: ${storableText(errorMessage(failure))})`,
      );
      return progress;
    }
  }
}

async function recordFailureOnce(
  prisma: PrismaClient,
  runId: number,
  progress: FetchProgress,
  error: string,
): Promise<FetchProgress> {
  return prisma.$transaction(async (tx) => {
    const [seen] = await tx.$queryRaw<{ customersSeen: number; tenantsSeen: number }[]>`
      UPDATE sync_runs SET
        status = 'failed',
        finished_at = clock_timestamp(),
        error = ${error},
        api_total_count = ${totalCountColumn(progress.apiTotalCount)}::bigint,
        pages_fetched = ${countColumn(progress.pagesFetched)}::int,
        rejected_records = ${countColumn(progress.rejectedRecords)}::int,
        new_fields = ${progress.newFields}::text[],
        -- Staging of a run another process abandoned is gone: keep what this one counted.
        customers_seen = least(greatest(${countColumn(progress.customersSeen)}::bigint,
          (SELECT count(*) FROM staging_customers WHERE run_id = ${runId}::int)), ${MAX_INT4}::bigint),
        tenants_seen = least(greatest(${countColumn(progress.tenantsSeen)}::bigint,
          (SELECT count(*) FROM staging_tenants WHERE run_id = ${runId}::int)), ${MAX_INT4}::bigint)
      WHERE id = ${runId}::int AND status IN ('running', 'abandoned')
      RETURNING customers_seen AS "customersSeen", tenants_seen AS "tenantsSeen"`;
    await clearStaging(tx, [runId]);
    return { ...progress, ...seen };
  });
}

/** The failure without what the run had fetched; staging is left to the next run. */
async function recordBareFailure(
  prisma: PrismaClient,
  runId: number,
  error: string,
): Promise<void> {
  await prisma.$executeRaw`
    UPDATE sync_runs SET status = 'failed', finished_at = clock_timestamp(), error = ${error}
    WHERE id = ${runId}::int AND status IN ('running', 'abandoned')`;
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
  async record(prisma: PrismaClient): Promise<number[]> {
    const recorded: number[] = [];
    for (const [runId, { progress, error }] of this.#failures) {
      const late = `${error} (recorded by a later run: the database could not be reached when this one ended)`;
      const done = await recordFailure(prisma, runId, progress, late).then(
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

/** The largest value of PostgreSQL's integer, the type of the counts a run makes itself. */
const MAX_INT4 = 2_147_483_647;

/** Longest error text recorded; the rest of a longer one is cut off, and says so. */
const MAX_ERROR_LENGTH = 4_000;

/** A count as an integer column holds it: saturated, never a reason for the statement to fail. */
function countColumn(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return Math.min(Math.trunc(value), MAX_INT4);
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
export async function abandonStaleRuns(prisma: PrismaClient): Promise<number[]> {
  return prisma.$transaction(async (tx) => {
    const stale = await tx.$queryRaw<{ id: number }[]>`
      UPDATE sync_runs
      SET status = 'abandoned', finished_at = clock_timestamp(),
          error = ${ABANDONED_REASON}
      WHERE status = 'running'
      RETURNING id`;
    await clearAllStaging(tx);
    return stale.map((row) => row.id);
  });
}

/** The run in progress, if any: the newest row still `running`. */
export async function findRunningRun(prisma: PrismaClient): Promise<RunningRun | undefined> {
  const [row] = await prisma.$queryRaw<RunningRun[]>`
    SELECT id, started_at AS "startedAt", scheduled_for AS "scheduledFor"
    FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1`;
  return row;
}

/** How many runs the database holds; 0 when it has no sync_runs table (never migrated). */
export async function countRuns(db: Queryable): Promise<number> {
  // Two statements: a query naming sync_runs fails to plan where the table does not exist.
  const { rows: tables } = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('public.sync_runs') IS NOT NULL AS exists",
  );
  if (tables[0]?.exists !== true) return 0;
  const { rows } = await db.query<{ runs: number }>("SELECT count(*)::int AS runs FROM sync_runs");
  return rows[0]?.runs ?? 0;
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

export async function readRunTotals(prisma: PrismaClient): Promise<RunTotals> {
  const [counts, [last], [guard]] = await Promise.all([
    prisma.$queryRaw<{ status: RunStatus; runs: number }[]>`
      SELECT status, count(*)::int AS runs FROM sync_runs GROUP BY status`,
    prisma.$queryRaw<LastRunRow[]>`
      SELECT r.started, r.finished, r.status, r.complete, r."removalsWithheld", s."lastSuccess"
      FROM (SELECT extract(epoch FROM max(started_at))::float8 AS "lastSuccess"
            FROM sync_runs
            WHERE status = 'succeeded' AND customer_filter IS NULL AND removals_withheld = 0) s
      LEFT JOIN LATERAL (
        SELECT extract(epoch FROM started_at)::float8 AS started,
               extract(epoch FROM finished_at)::float8 AS finished,
               status, complete, removals_withheld AS "removalsWithheld"
        FROM sync_runs WHERE status <> 'running' ORDER BY id DESC LIMIT 1
      ) r ON true`,
    prisma.$queryRaw<GuardRow[]>`
      SELECT
        (SELECT removals_withheld FROM sync_runs WHERE status = 'succeeded' AND complete
          ORDER BY id DESC LIMIT 1) AS withheld,
        (SELECT extract(epoch FROM max(started_at))::float8 FROM sync_runs
          WHERE status = 'succeeded' AND complete AND removals_withheld = 0) AS "lastCompleteSuccess"`,
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

interface GuardRow {
  withheld: number | null;
  lastCompleteSuccess: number | null;
}

interface LastRunRow {
  started: number | null;
  finished: number | null;
  status: RunStatus | null;
  complete: boolean | null;
  removalsWithheld: number | null;
  lastSuccess: number | null;
}
