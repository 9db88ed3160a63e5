// `elements-sync status`: the last runs and the next fire, as a table for people or JSON.
import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { NotMigratedError, UsageError } from "../errors.ts";
import { formatDuration, formatTable, layoutTable, type Table } from "../reporting/format.ts";
import { resourcesByRun } from "../reporting/reports.ts";
import {
  hasReportingViews,
  readRunResources,
  readRuns,
  type RunResourceRow,
  type RunRow,
} from "../sql/reporting.ts";
import { nextFire } from "../worker/schedule.ts";
import type { CommandRunner } from "./command.ts";
import { STATUS_TABLE_WIDTH as TABLE_WIDTH } from "./defaults.ts";
import { EXIT } from "./io.ts";
import { integerOption } from "./options.ts";

export const statusCommand: CommandRunner = {
  async run(values, io) {
    const limit = integerOption(values, "runs", { min: 1, max: 1000, fallback: 10 });
    if (values.wide === true && values.json === true) {
      throw new UsageError("--wide is for the table and --json has every field whole: give one.");
    }
    loadDotEnv();
    const {
      database,
      databaseTimeout,
      worker: schedule,
    } = readConfig(process.env, ["database", "databaseTimeout", "worker"]);
    const db = openDatabase(database.url, databaseTimeout);
    try {
      if (!(await hasReportingViews(db.pool))) {
        throw new NotMigratedError();
      }
      const runs = await readRuns(db.pool, limit);
      const resources = await readRunResources(
        db.pool,
        runs.map((run) => run.run_id),
      );
      const status: Status = {
        schedule: {
          cron: schedule.cron,
          timezone: schedule.timezone,
          nextFireAt: nextFire(schedule.cron, schedule.timezone)?.toISOString() ?? null,
        },
        runs,
        resources,
      };
      io.out(
        values.json === true ? statusJson(status) : formatStatus(status, values.wide === true),
      );
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

interface Status {
  schedule: { cron: string; timezone: string; nextFireAt: string | null };
  runs: RunRow[];
  /** What each run got of each resource; none for runs from before they were recorded. */
  resources: RunResourceRow[];
}

/** Run fields in camelCase and times in UTC, as scripts reading `status --json` know them. */
function statusJson({ schedule, runs, resources }: Status): string {
  const json = {
    schedule,
    runs: runs.map((run) => ({
      id: run.run_id,
      startedAt: utcIso(run.started_at),
      finishedAt: run.finished_at === null ? null : utcIso(run.finished_at),
      durationMs: run.elapsed_ms,
      status: run.status,
      complete: run.outcome === "complete",
      scheduledFor: run.scheduled_for === null ? null : utcIso(run.scheduled_for),
      customerFilter: run.customer_filter,
      customersSeen: run.customers_seen,
      customersAdded: run.customers_added,
      customersRemoved: run.customers_removed,
      customersRestored: run.customers_restored,
      statusChanges: run.status_changes,
      rejectedRecords: run.rejected_records,
      // outcome_reason is the reason of a run that was incomplete or did not succeed.
      incompleteReason: run.status === "succeeded" ? run.outcome_reason : null,
      error: run.status === "succeeded" ? null : run.outcome_reason,
      removalsWithheld: run.removals_withheld,
      warning: run.warning,
      newFields: run.new_fields === null ? [] : run.new_fields.split(", "),
      resources: resources
        .filter((row) => row.run_id === run.run_id)
        .map(({ resource, outcome, reason, requests, records, rejected }) => ({
          resource,
          outcome,
          reason,
          requests,
          records,
          rejected,
        })),
    })),
  };
  return JSON.stringify(json, null, 2);
}

function formatStatus({ schedule, runs, resources }: Status, wide: boolean): string {
  const next = schedule.nextFireAt ? utc(schedule.nextFireAt) : "never";
  const header = `schedule: ${schedule.cron} (${schedule.timezone}); next fire ${next} UTC`;
  if (runs.length === 0) return `${header}\nno runs yet`;
  const described = resourcesByRun(resources);
  if (wide) return `${header}\n\n${formatTable(wideTable(runs, described))}`;
  const { text, cutNotes } = layoutTable(narrowTable(runs, described));
  const notes = cutNotes === 1 ? "1 note was" : `${cutNotes} notes were`;
  const hint = `${notes} cut to fit ${TABLE_WIDTH} columns; add --wide (or use --json) to see them whole.`;
  return [header, "", text, ...(cutNotes > 0 ? ["", hint] : [])].join("\n");
}

/**
 * What fits 120 columns: status and completeness as the view's one outcome word, the trigger
 * without the customer id, and the note and the resources each on a line of their own under
 * their run.
 */
function narrowTable(runs: readonly RunRow[], resources: ReadonlyMap<number, string>): Table {
  return {
    headers: [
      "run",
      "started (UTC)",
      "duration",
      "outcome",
      "trigger",
      "seen",
      "added",
      "removed",
      "restored",
      "changes",
    ],
    numeric: new Set([0, 2, 5, 6, 7, 8, 9]),
    rule: false,
    rows: runs.map((run) => [
      run.run_id,
      utc(run.started_at),
      formatDuration(shownMs(run)),
      run.outcome,
      shortTrigger(run),
      ...counts(run),
    ]),
    notes: runs.map((run) => [note(run), resources.get(run.run_id) ?? ""]),
    width: TABLE_WIDTH,
  };
}

/** Every field `status` shows, each whole: `--wide`. */
function wideTable(runs: readonly RunRow[], resources: ReadonlyMap<number, string>): Table {
  return {
    headers: [
      "run",
      "started (UTC)",
      "duration",
      "status",
      "trigger",
      "complete",
      "seen",
      "added",
      "removed",
      "restored",
      "status changes",
      "note",
      "resources",
    ],
    numeric: new Set([0, 2, 6, 7, 8, 9, 10]),
    rule: false,
    rows: runs.map((run) => [
      run.run_id,
      utc(run.started_at),
      formatDuration(shownMs(run)),
      run.status,
      trigger(run),
      run.outcome === "complete" ? "yes" : "no",
      ...counts(run),
      note(run),
      resources.get(run.run_id) ?? "",
    ]),
  };
}

/** Customers seen, added, removed, restored, and status changes: in both tables. */
function counts(run: RunRow): number[] {
  return [
    run.customers_seen,
    run.customers_added,
    run.customers_removed,
    run.customers_restored,
    run.status_changes,
  ];
}

/**
 * Why it failed, what needs a look although it succeeded, or why it was incomplete; then the
 * fields outside the documented set it met (sync_runs.new_fields).
 */
function note(run: RunRow): string {
  const why = run.status === "succeeded" ? (run.warning ?? run.outcome_reason) : run.outcome_reason;
  const fields = run.new_fields === null ? null : `new fields: ${run.new_fields}`;
  return [why, fields].filter((part) => part !== null && part !== "").join("; ");
}

function utcIso(iso: string): string {
  return new Date(iso).toISOString();
}

/** "2026-11-30 03:30:00" from ISO 8601 text in any time zone. */
function utc(iso: string): string {
  return utcIso(iso).replace("T", " ").slice(0, 19);
}

/** How the run started: the scheduled fire it served, the worker's start, one customer by hand, or on demand. */
function trigger(run: RunRow): string {
  if (run.scheduled_for) return `cron ${utc(run.scheduled_for).slice(11)}`;
  if (run.on_start) return "on start";
  return run.customer_filter ? `customer ${run.customer_filter}` : "on demand";
}

/** The trigger without the customer id, which would take 36 columns. */
function shortTrigger(run: RunRow): string {
  return run.customer_filter && !run.scheduled_for ? "customer" : trigger(run);
}

/** A finished run's duration as report runs has it (to the ms); a running run's time so far. */
function shownMs(run: RunRow): number {
  return run.duration_seconds === null ? run.elapsed_ms : Number(run.duration_seconds) * 1000;
}
