// sync_runs: one statement per function. Times come from the database's clock, so runs on
// different hosts order correctly. Counts arrive as the columns hold them (src/sync/runs.ts
// saturates them): no statement here fails on a value.
import type { Queryable } from "../db.ts";

export type RunStatus = "running" | "succeeded" | "failed" | "abandoned";

export interface StartedRun {
  id: number;
  /** Stamps everything the run changes; later than every earlier run's. */
  startedAt: Date;
}

/** The run holding the database, for a message to whoever was refused. */
export interface RunningRun {
  id: number;
  startedAt: Date;
  scheduledFor: Date | null;
}

/**
 * A new `running` row. started_at is whole milliseconds (what a JavaScript Date holds, so it
 * round-trips exactly into the merge) and always after the previous run's, even if the
 * database clock stepped back: history periods must never run backwards.
 */
export async function insertRun(
  db: Queryable,
  run: { customerFilter: string | null; scheduledFor: Date | null; onStart: boolean },
): Promise<StartedRun> {
  const { rows } = await db.query<StartedRun>(
    `INSERT INTO sync_runs (customer_filter, scheduled_for, on_start, started_at)
     VALUES (
       $1,
       $2::timestamptz,
       $3::boolean,
       greatest(
         date_trunc('milliseconds', clock_timestamp()),
         (SELECT max(started_at) + interval '1 millisecond' FROM sync_runs)
       )
     )
     RETURNING id, started_at AS "startedAt"`,
    [run.customerFilter, run.scheduledFor, run.onStart],
  );
  const [row] = rows;
  if (!row) throw new Error("sync_runs insert returned no row");
  return row;
}

/** The run's status, its row locked until the caller's transaction ends. */
export async function lockRunRow(
  session: Queryable,
  runId: number,
): Promise<RunStatus | undefined> {
  const { rows } = await session.query<{ status: RunStatus }>(
    "SELECT status FROM sync_runs WHERE id = $1 FOR UPDATE",
    [runId],
  );
  return rows[0]?.status;
}

export async function readRunStatus(db: Queryable, runId: number): Promise<RunStatus | undefined> {
  const { rows } = await db.query<{ status: RunStatus }>(
    "SELECT status FROM sync_runs WHERE id = $1",
    [runId],
  );
  return rows[0]?.status;
}

/** What a run that succeeded records. */
export interface SucceededRow {
  complete: boolean;
  incompleteReason: string | null;
  apiTotalCount: number | null;
  pagesFetched: number;
  customersSeen: number;
  tenantsSeen: number;
  rejectedRecords: number;
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
  removalsWithheld: number;
  warning: string | null;
  newFields: readonly string[];
}

export async function markSucceeded(
  session: Queryable,
  runId: number,
  row: SucceededRow,
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
      row.complete,
      row.incompleteReason,
      row.apiTotalCount,
      row.pagesFetched,
      row.customersSeen,
      row.tenantsSeen,
      row.rejectedRecords,
      row.customersAdded,
      row.customersRemoved,
      row.customersRestored,
      row.statusChanges,
      row.removalsWithheld,
      row.warning,
      row.newFields,
    ],
  );
}

/** What a run that failed records of what it had fetched. */
export interface FailedRow {
  error: string;
  apiTotalCount: number | null;
  pagesFetched: number;
  rejectedRecords: number;
  newFields: readonly string[];
  customersSeen: number;
  tenantsSeen: number;
}

/**
 * Marks a run still `running` (or marked abandoned by another process meanwhile) failed.
 * customers_seen is at least what staging recorded of it: a write whose answer was lost
 * still counts. Returns the counts recorded; undefined when the run had already ended.
 */
export async function markFailed(
  db: Queryable,
  runId: number,
  row: FailedRow,
): Promise<{ customersSeen: number; tenantsSeen: number } | undefined> {
  const { rows } = await db.query<{ customersSeen: number; tenantsSeen: number }>(
    `UPDATE sync_runs SET
       status = 'failed',
       finished_at = clock_timestamp(),
       error = $2,
       api_total_count = $3::bigint,
       pages_fetched = $4::int,
       rejected_records = $5::int,
       new_fields = $6::text[],
       customers_seen = least(greatest($7::bigint,
         (SELECT count(*) FROM staging_customers WHERE run_id = $1)), $9::bigint),
       tenants_seen = $8::int
     WHERE id = $1 AND status IN ('running', 'abandoned')
     RETURNING customers_seen AS "customersSeen", tenants_seen AS "tenantsSeen"`,
    [
      runId,
      row.error,
      row.apiTotalCount,
      row.pagesFetched,
      row.rejectedRecords,
      row.newFields,
      row.customersSeen,
      row.tenantsSeen,
      MAX_INT4,
    ],
  );
  return rows[0];
}

/** The failure alone, for when what the run had fetched is what the database refused. */
export async function markFailedBare(db: Queryable, runId: number, error: string): Promise<void> {
  await db.query(
    `UPDATE sync_runs SET status = 'failed', finished_at = clock_timestamp(), error = $2
     WHERE id = $1 AND status IN ('running', 'abandoned')`,
    [runId, error],
  );
}

/** Marks every run still `running` abandoned, for `reason`; returns their ids. */
export async function abandonRunning(db: Queryable, reason: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE sync_runs SET status = 'abandoned', finished_at = clock_timestamp(), error = $1
     WHERE status = 'running'
     RETURNING id`,
    [reason],
  );
  return rows.map((row) => row.id);
}

/** The run in progress, if any: the newest row still `running`. */
export async function findRunningRun(db: Queryable): Promise<RunningRun | undefined> {
  const { rows } = await db.query<RunningRun>(
    `SELECT id, started_at AS "startedAt", scheduled_for AS "scheduledFor"
     FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1`,
  );
  return rows[0];
}

/** Whether the database has a sync_runs table (it has been migrated). */
export async function hasRunsTable(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('public.sync_runs') IS NOT NULL AS exists",
  );
  return rows[0]?.exists === true;
}

export async function countRuns(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ runs: number }>("SELECT count(*)::int AS runs FROM sync_runs");
  return rows[0]?.runs ?? 0;
}

export async function countRunsByStatus(
  db: Queryable,
): Promise<{ status: RunStatus; runs: number }[]> {
  const { rows } = await db.query<{ status: RunStatus; runs: number }>(
    "SELECT status, count(*)::int AS runs FROM sync_runs GROUP BY status",
  );
  return rows;
}

export interface LastRunRow {
  started: number | null;
  finished: number | null;
  status: RunStatus | null;
  complete: boolean | null;
  removalsWithheld: number | null;
  /** Start of the newest succeeded full run whose removals the guard did not withhold. */
  lastSuccess: number | null;
}

/** The newest run that ended, with the newest full success beside it; times in epoch seconds. */
export async function readLastRun(db: Queryable): Promise<LastRunRow | undefined> {
  const { rows } = await db.query<LastRunRow>(
    `SELECT r.started, r.finished, r.status, r.complete, r."removalsWithheld", s."lastSuccess"
     FROM (SELECT extract(epoch FROM max(started_at))::float8 AS "lastSuccess"
           FROM sync_runs
           WHERE status = 'succeeded' AND customer_filter IS NULL AND removals_withheld = 0) s
     LEFT JOIN LATERAL (
       SELECT extract(epoch FROM started_at)::float8 AS started,
              extract(epoch FROM finished_at)::float8 AS finished,
              status, complete, removals_withheld AS "removalsWithheld"
       FROM sync_runs WHERE status <> 'running' ORDER BY id DESC LIMIT 1
     ) r ON true`,
  );
  return rows[0];
}

export interface GuardRow {
  /** What the newest complete run that succeeded withheld. */
  withheld: number | null;
  lastCompleteSuccess: number | null;
}

/** The mass-removal guard as the newest complete runs left it; times in epoch seconds. */
export async function readGuard(db: Queryable): Promise<GuardRow | undefined> {
  const { rows } = await db.query<GuardRow>(
    `SELECT
       (SELECT removals_withheld FROM sync_runs WHERE status = 'succeeded' AND complete
         ORDER BY id DESC LIMIT 1) AS withheld,
       (SELECT extract(epoch FROM max(started_at))::float8 FROM sync_runs
         WHERE status = 'succeeded' AND complete AND removals_withheld = 0) AS "lastCompleteSuccess"`,
  );
  return rows[0];
}

/** The largest value of PostgreSQL's integer, the type of the counts a run makes itself. */
export const MAX_INT4 = 2_147_483_647;
