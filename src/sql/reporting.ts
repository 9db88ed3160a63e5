// The reads behind `report`, `status` and the demo, from the reporting views: they are the one
// definition of a change, a daily count or a run outcome, shared with BI tools. The rows are
// shaped for people in src/reporting/ (reports.ts, format.ts, chart.ts).
// Timestamps come back as ISO 8601 text in the session's time zone, to the millisecond (what
// JavaScript and spreadsheets keep), days as YYYY-MM-DD.
import type { Queryable } from "../db.ts";

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MSTZH:TZM'`;

/** A lower bound for changes: a duration back from now, or the start of a calendar day. */
export type Since = { kind: "duration"; interval: string } | { kind: "day"; day: string };

export interface ChangeFilter {
  /** Only changes since then; all of them when undefined. */
  since?: Since | undefined;
  /** Only the changes this run saw. */
  runId?: number | undefined;
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
     WHERE changed_at >= coalesce($1::date::timestamptz, now() - $2::interval, '-infinity')
       AND ($3::integer IS NULL OR (job_status = $3::integer AND job_status_changed))
       AND ($5::integer IS NULL OR run_id = $5::integer)
     ORDER BY changed_at DESC, organization, customer_id
     LIMIT $4::integer`,
    [
      filter.since?.kind === "day" ? filter.since.day : null,
      filter.since?.kind === "duration" ? filter.since.interval : null,
      filter.jobStatus ?? null,
      filter.limit ?? null,
      filter.runId ?? null,
    ],
  );
  return rows;
}

/** What `report changes --kind` selects; `tenant` is every kind of tenant change. */
export const CHANGE_KINDS = [
  "added",
  "removed",
  "restored",
  "status",
  "mode",
  "owner",
  "organization",
  "country",
  "tenant",
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface AttributeChangeFilter {
  since?: Since | undefined;
  runId?: number | undefined;
  /** Only changes that moved a customer into this job status (appearing or coming back in it included). */
  jobStatus?: number | undefined;
  /** Only these kinds; every kind when undefined. */
  kinds?: readonly ChangeKind[] | undefined;
  /** Only these customers (and their tenants). */
  customerIds?: readonly string[] | undefined;
  /** Leave out what a customer's first sighting brought: the customer and its tenants as added. */
  firstSeen?: boolean | undefined;
  limit?: number | undefined;
}

/** A row of reporting.attribute_changes, with its kind and what a person needs beside it. */
export interface AttributeChangeRow {
  changed_at: string;
  run_id: number;
  /** added, removed, restored, status, mode, owner, organization, country; tenant added, tenant removed, tenant restored, tenant renamed. */
  kind: string;
  entity: "customer" | "tenant";
  customer_id: string;
  tenant_id: string | null;
  organization: string | null;
  /** The tenant's name (as last seen) for a tenant's change; null for a customer's. */
  tenant_name: string | null;
  field: string;
  old_value: string | null;
  new_value: string | null;
  old_label: string | null;
  new_label: string | null;
  /** The job status a customer changed to, appeared in or came back in; null for other changes. */
  job_status: number | null;
  job_status_label: string | null;
}

/**
 * reporting.attribute_changes, filtered, with a kind per row. The customer's job status after
 * the change comes from the period the change opened (customer rows open one; tenant rows
 * may not, so they have none).
 */
export async function readAttributeChanges(
  db: Queryable,
  filter: AttributeChangeFilter,
): Promise<AttributeChangeRow[]> {
  const { rows } = await db.query<AttributeChangeRow>(
    `SELECT x.changed_at, x.run_id, x.kind, x.entity, x.customer_id, x.tenant_id, x.organization,
            x.tenant_name, x.field, x.old_value, x.new_value, x.old_label, x.new_label,
            x.job_status, x.job_status_label
     FROM (
       SELECT to_char(a.changed_at, ${ISO}) AS changed_at, a.run_id,
              CASE WHEN a.entity = 'tenant' THEN 'tenant ' ELSE '' END ||
              CASE a.field
                WHEN 'presence' THEN CASE WHEN a.old_value IS NULL THEN 'added'
                                          WHEN a.new_value = 'removed' THEN 'removed'
                                          ELSE 'restored' END
                WHEN 'job_status' THEN 'status'
                WHEN 'management_mode' THEN 'mode'
                WHEN 'owner_email' THEN 'owner'
                WHEN 'country_or_region' THEN 'country'
                WHEN 'name' THEN 'renamed'
                ELSE a.field
              END AS kind,
              a.entity, a.customer_id, a.tenant_id, a.organization, t.name AS tenant_name,
              a.field, a.old_value, a.new_value, a.old_label, a.new_label,
              s.job_status, coalesce(js.label, 'unknown (' || s.job_status || ')') AS job_status_label,
              a.changed_at AS at
       FROM reporting.attribute_changes a
       JOIN customers c ON c.id = a.customer_id
       LEFT JOIN tenants t ON a.entity = 'tenant' AND t.customer_id = a.customer_id AND t.id = a.tenant_id
       -- The status a customer changed to, or appeared or came back in: the period the change
       -- opened, looked up by customer (a handful of periods each) for presence rows alone.
       LEFT JOIN LATERAL (
         SELECT CASE WHEN a.field = 'job_status' THEN a.new_value::integer END AS job_status
         WHERE a.field = 'job_status'
         UNION ALL
         SELECT h.job_status FROM customer_history h
         WHERE a.entity = 'customer' AND a.field = 'presence' AND a.new_value = 'present'
           AND h.customer_id = a.customer_id AND h.valid_from = a.changed_at
       ) s ON true
       LEFT JOIN job_status_codes js ON js.code = s.job_status
       WHERE a.changed_at >= coalesce($1::date::timestamptz, now() - $2::interval, '-infinity')
         AND ($3::integer IS NULL OR a.run_id = $3::integer)
         AND ($4::text[] IS NULL OR a.customer_id = ANY($4::text[]))
         -- A customer's first run: its own appearance and its tenants'.
         AND ($5::boolean OR a.changed_at <> c.first_seen_at)
     ) x
     WHERE ($6::text[] IS NULL OR x.kind = ANY($6::text[])
            OR (x.entity = 'tenant' AND 'tenant' = ANY($6::text[])))
       -- Into a job status: a change of it, or appearing or coming back in it.
       AND ($7::integer IS NULL OR (x.job_status = $7::integer
            AND (x.field = 'job_status' OR x.kind IN ('added', 'restored'))))
     -- A customer's own changes before its tenants', its presence before its attributes.
     ORDER BY x.at DESC, x.organization, x.customer_id, x.tenant_id NULLS FIRST,
              x.field <> 'presence', x.field
     LIMIT $8::integer`,
    [
      filter.since?.kind === "day" ? filter.since.day : null,
      filter.since?.kind === "duration" ? filter.since.interval : null,
      filter.runId ?? null,
      filter.customerIds ?? null,
      filter.firstSeen ?? true,
      filter.kinds ?? null,
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

/** A run as reporting.sync_runs has it, with what `status` shows besides. */
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
  /** The run's new fields (sync_runs.new_fields) joined by ", "; null when none. */
  new_fields: string | null;
  /** The scheduled fire the run served; null for a run started by hand or at worker start. */
  scheduled_for: string | null;
  /** Started by `start` at once (SYNC_ON_START). */
  on_start: boolean;
  /** duration_seconds in unrounded milliseconds, or for a running run how long it has been going. */
  elapsed_ms: number;
}

/** The latest `limit` runs, newest first. */
export async function readRuns(db: Queryable, limit: number): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT v.run_id, to_char(v.started_at, ${ISO}) AS started_at,
            to_char(v.finished_at, ${ISO}) AS finished_at,
            v.duration_seconds::text AS duration_seconds, v.status, v.outcome, v.outcome_reason,
            -- bigint, which node-pg returns as text; every totalCount recorded is a safe integer.
            v.customer_filter, v.api_total_count::float8 AS api_total_count, v.pages_fetched,
            v.customers_seen,
            v.tenants_seen, v.customers_added, v.customers_removed, v.customers_restored,
            v.status_changes, v.rejected_records, v.removals_withheld, v.warning,
            -- One text cell for every format (CSV has no lists); null like warning when none.
            nullif(array_to_string(v.new_fields, ', '), '') AS new_fields,
            -- What the view leaves out: the trigger, and how long a running run has been going.
            to_char(r.scheduled_for, ${ISO}) AS scheduled_for, r.on_start,
            (extract(epoch FROM coalesce(r.finished_at, clock_timestamp()) - r.started_at) * 1000)::float8
              AS elapsed_ms
     FROM reporting.sync_runs v
     JOIN sync_runs r ON r.id = v.run_id
     ORDER BY v.run_id DESC
     LIMIT $1::integer`,
    [limit],
  );
  return rows;
}

/** What a run got of one resource (reporting.sync_run_resources). */
export interface RunResourceRow {
  run_id: number;
  /** customers, services or jobs. */
  resource: string;
  /** complete, partial or skipped. */
  outcome: string;
  /** Why it is partial or skipped; null when complete. */
  reason: string | null;
  requests: number;
  records: number;
  rejected: number;
}

/**
 * The resources of runs `runIds`, each run's in the order a run syncs them. Runs from before
 * the migration that added the view have none; a database not yet migrated to it, none at all.
 */
export async function readRunResources(
  db: Queryable,
  runIds: readonly number[],
): Promise<RunResourceRow[]> {
  if (runIds.length === 0) return [];
  const { rows: present } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('reporting.sync_run_resources') IS NOT NULL AS present",
  );
  if (present[0]?.present !== true) return [];
  const { rows } = await db.query<RunResourceRow>(
    `SELECT run_id, resource, outcome, reason, requests, records, rejected
     FROM reporting.sync_run_resources
     WHERE run_id = ANY($1::int[])
     ORDER BY run_id DESC, array_position(ARRAY['customers', 'services', 'jobs'], resource)`,
    [runIds],
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

/**
 * Days and times in `timeZone` for the rest of the transaction. PostgreSQL rejects a zone it
 * does not know with SQLSTATE 22023 (isUnknownTimeZone).
 */
export async function setTimeZone(session: Queryable, timeZone: string): Promise<void> {
  await session.query("SELECT set_config('TimeZone', $1, true)", [timeZone]);
}

/**
 * No JIT compilation for the rest of the transaction: the reports' statements are many
 * expressions over modest row counts, and compiling them took longer than running them
 * (1.3 s of 2 s for `report changes` after a first sync of 30,000 customers).
 */
export async function skipJit(session: Queryable): Promise<void> {
  await session.query("SELECT set_config('jit', 'off', true)");
}

export function isUnknownTimeZone(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "22023";
}
