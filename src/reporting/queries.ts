// What the `report` command shows, read from the reporting views only: they are the one
// definition of a change, a daily count or a run outcome, shared with BI tools.
// Timestamps come back as ISO 8601 text in the session's time zone, to the millisecond (what
// JavaScript and spreadsheets keep), days as YYYY-MM-DD.
import type pg from "pg";

export interface Queryable {
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MSTZH:TZM'`;

/** A lower bound for changes: a duration back from now, or the start of a calendar day. */
export type Since = { kind: "duration"; interval: string } | { kind: "day"; day: string };

export interface ChangeFilter {
  since: Since;
  /** Only changes that moved a customer into this job status. */
  jobStatus?: number | undefined;
  limit?: number | undefined;
}

export interface ChangeRow {
  changed_at: string;
  run_id: number;
  customer_id: string;
  organization: string | null;
  change_kind: "added" | "removed" | "restored" | "changed";
  previous_job_status: number | null;
  previous_job_status_label: string | null;
  job_status: number;
  job_status_label: string;
  previous_management_mode: number | null;
  previous_management_mode_label: string | null;
  management_mode: number;
  management_mode_label: string;
  job_status_changed: boolean;
  management_mode_changed: boolean;
}

export async function readChanges(db: Queryable, filter: ChangeFilter): Promise<ChangeRow[]> {
  const { rows } = await db.query<ChangeRow>(
    `SELECT to_char(changed_at, ${ISO}) AS changed_at, run_id, customer_id, organization,
            change_kind, previous_job_status, previous_job_status_label, job_status,
            job_status_label, previous_management_mode, previous_management_mode_label,
            management_mode, management_mode_label, job_status_changed, management_mode_changed
     FROM reporting.job_status_changes
     WHERE changed_at >= coalesce($1::date::timestamptz, now() - $2::interval)
       AND ($3::integer IS NULL OR (job_status = $3::integer AND job_status_changed))
     ORDER BY changed_at DESC, organization, customer_id
     LIMIT $4::integer`,
    [
      filter.since.kind === "day" ? filter.since.day : null,
      filter.since.kind === "duration" ? filter.since.interval : null,
      filter.jobStatus ?? null,
      filter.limit ?? null,
    ],
  );
  return rows;
}

export interface DailyRow {
  day: string;
  job_status: number;
  job_status_label: string;
  customers: number;
}

/** The last `days` days of reporting.job_status_daily, today included. */
export async function readDaily(db: Queryable, days: number): Promise<DailyRow[]> {
  const { rows } = await db.query<DailyRow>(
    `SELECT day::text AS day, job_status, job_status_label, customers
     FROM reporting.job_status_daily
     WHERE day > current_date - $1::integer
     ORDER BY day, job_status`,
    [days],
  );
  return rows;
}

export interface RunRow {
  run_id: number;
  started_at: string;
  finished_at: string | null;
  duration_seconds: string | null;
  status: string;
  outcome: string;
  outcome_reason: string | null;
  customer_filter: string | null;
  api_total_count: number | null;
  pages_fetched: number;
  customers_seen: number;
  tenants_seen: number;
  customers_added: number;
  customers_removed: number;
  customers_restored: number;
  status_changes: number;
  rejected_records: number;
  removals_withheld: number;
  warning: string | null;
}

/** The latest `limit` runs, newest first. */
export async function readRuns(db: Queryable, limit: number): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT run_id, to_char(started_at, ${ISO}) AS started_at,
            to_char(finished_at, ${ISO}) AS finished_at, duration_seconds::text AS duration_seconds,
            status, outcome, outcome_reason, customer_filter, api_total_count, pages_fetched,
            customers_seen, tenants_seen, customers_added, customers_removed,
            customers_restored, status_changes, rejected_records, removals_withheld, warning
     FROM reporting.sync_runs
     ORDER BY run_id DESC
     LIMIT $1::integer`,
    [limit],
  );
  return rows;
}

/** False when the database was never migrated to a version with the reporting views. */
export async function hasReportingViews(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('reporting.job_status_daily') IS NOT NULL AS present",
  );
  return rows[0]?.present === true;
}
