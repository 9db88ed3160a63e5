// The three reports as tables: a layout for people (`--format table`) and the view's own
// columns for scripts (`--format csv|json`), so a script reads what a BI tool reads.
import { formatSeconds, plural, type Cell, type Table } from "./format.ts";
import type {
  AttributeChangeRow,
  ChangeRow,
  DailyRow,
  RunResourceRow,
  RunRow,
} from "../sql/reporting.ts";

/** "2026-11-24T10:15:31+01:00" → "2026-11-24 10:15" (already in the report's time zone). */
export function shortTime(iso: string | null): string {
  return iso === null ? "" : iso.slice(0, 16).replace("T", " ");
}

/** Rows of objects as a table with their keys as headers, in the order of `columns`. */
export function dataTable<T extends object>(
  rows: readonly T[],
  columns: readonly (keyof T)[],
): Table {
  return {
    headers: columns.map(String),
    rows: rows.map((row) => columns.map((column) => row[column] as Cell)),
  };
}

/** `report changes --format csv|json`: reporting.attribute_changes's columns and the rest of AttributeChangeRow. */
export const CHANGE_COLUMNS: readonly (keyof AttributeChangeRow)[] = [
  "changed_at",
  "run_id",
  "kind",
  "entity",
  "customer_id",
  "tenant_id",
  "organization",
  "tenant_name",
  "field",
  "old_value",
  "new_value",
  "old_label",
  "new_label",
  "job_status",
  "job_status_label",
];

/** What a change did, in words: the job status a customer appeared in, a tenant's name, old → new. */
function changeValue(row: AttributeChangeRow): string {
  if (row.entity === "tenant") {
    const name = row.tenant_name ?? "(no name)";
    return row.field === "name"
      ? `${row.old_label ?? "(no name)"} → ${row.new_label ?? "(no name)"}`
      : name;
  }
  if (row.field === "presence") return row.kind === "removed" ? "" : (row.job_status_label ?? "");
  return `${row.old_label ?? "(none)"} → ${row.new_label ?? "(none)"}`;
}

/** Every attribute change, one per line: what changed and how. */
export function attributeChangesForPeople(rows: readonly AttributeChangeRow[]): Table {
  return {
    headers: ["changed at", "run", "organization", "change", "detail", "customer id"],
    numeric: new Set([1]),
    rows: rows.map((row) => [
      shortTime(row.changed_at),
      row.run_id,
      row.organization ?? "(no name)",
      row.kind,
      changeValue(row),
      row.customer_id,
    ]),
  };
}

function transition(previous: string | null, current: string): string {
  return previous !== null && previous !== current ? `${previous} → ${current}` : current;
}

export function changesForPeople(rows: readonly ChangeRow[]): Table {
  return {
    headers: [
      "changed at",
      "run",
      "organization",
      "change",
      "job status",
      "management mode",
      "customer id",
    ],
    numeric: new Set([1]),
    rows: rows.map((row) => [
      shortTime(row.changed_at),
      row.run_id,
      row.organization ?? "(no name)",
      row.change_kind,
      transition(row.previous_job_status_label, row.job_status_label),
      transition(row.previous_management_mode_label, row.management_mode_label),
      row.customer_id,
    ]),
  };
}

export const DAILY_COLUMNS: readonly (keyof DailyRow)[] = [
  "day",
  "job_status",
  "job_status_label",
  "customers",
];

/** The job statuses that have customers on some day of `rows`, in code order. */
export function statusesInUse(rows: readonly DailyRow[]): { code: number; label: string }[] {
  const used = new Map<number, string>();
  for (const row of rows) if (row.customers > 0) used.set(row.job_status, row.job_status_label);
  return [...used].sort(([a], [b]) => a - b).map(([code, label]) => ({ code, label }));
}

/** One line per day, one column per job status in use, and the total. */
export function trendForPeople(rows: readonly DailyRow[]): Table {
  const statuses = statusesInUse(rows);
  const days = [...new Set(rows.map((row) => row.day))];
  const count = new Map(rows.map((row) => [`${row.day} ${row.job_status}`, row.customers]));
  return {
    headers: ["day", ...statuses.map((status) => status.label), "total"],
    numeric: new Set(statuses.map((_, index) => index + 1).concat(statuses.length + 1)),
    rows: days.map((day) => {
      const counts = statuses.map((status) => count.get(`${day} ${status.code}`) ?? 0);
      return [day, ...counts, counts.reduce((sum, n) => sum + n, 0)];
    }),
  };
}

export const RUN_COLUMNS: readonly (keyof RunRow)[] = [
  "run_id",
  "started_at",
  "finished_at",
  "duration_seconds",
  "status",
  "outcome",
  "outcome_reason",
  "customer_filter",
  "api_total_count",
  "pages_fetched",
  "customers_seen",
  "tenants_seen",
  "customers_added",
  "customers_removed",
  "customers_restored",
  "status_changes",
  "rejected_records",
  "removals_withheld",
  "warning",
  "new_fields",
];

/** Why a run needs a look: its error, why it was incomplete, its warning, its new fields. */
function runNote(row: RunRow): string {
  const newFields = row.new_fields === null ? null : `new fields: ${row.new_fields}`;
  return [row.outcome_reason, row.warning, newFields].filter((note) => note !== null).join("; ");
}

/**
 * What a run got of each resource, on one line: `customers complete: 250 records, 3 requests;
 * services skipped: 0 records, 1 request (why)`. Empty for a run without resource rows (one
 * from before the version that records them).
 */
export function describeResources(rows: readonly RunResourceRow[]): string {
  return rows
    .map((row) => {
      const counts = [
        plural(row.records, "record"),
        plural(row.requests, "request"),
        ...(row.rejected > 0 ? [`${row.rejected} rejected`] : []),
      ].join(", ");
      const reason = row.reason === null ? "" : ` (${row.reason})`;
      return `${row.resource} ${row.outcome}: ${counts}${reason}`;
    })
    .join("; ");
}

/** Each run's resources described, by run id. */
export function resourcesByRun(rows: readonly RunResourceRow[]): Map<number, string> {
  const byRun = new Map<number, RunResourceRow[]>();
  for (const row of rows) byRun.set(row.run_id, [...(byRun.get(row.run_id) ?? []), row]);
  return new Map([...byRun].map(([runId, resources]) => [runId, describeResources(resources)]));
}

export function runsForPeople(
  rows: readonly RunRow[],
  resources: ReadonlyMap<number, string> = new Map(),
): Table {
  return {
    headers: [
      "run",
      "started",
      "seconds",
      "outcome",
      "customers",
      "added",
      "removed",
      "withheld",
      "restored",
      "changes",
      "rejected",
      "resources",
      "note",
    ],
    numeric: new Set([0, 2, 4, 5, 6, 7, 8, 9, 10]),
    rows: rows.map((row) => [
      row.run_id,
      shortTime(row.started_at),
      row.duration_seconds === null ? "" : formatSeconds(Number(row.duration_seconds) * 1000),
      row.customer_filter === null
        ? row.outcome
        : `${row.outcome} (--customer ${row.customer_filter})`,
      row.customers_seen,
      row.customers_added,
      row.customers_removed,
      row.removals_withheld,
      row.customers_restored,
      row.status_changes,
      row.rejected_records,
      resources.get(row.run_id) ?? "",
      runNote(row),
    ]),
  };
}
