import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase, type PrismaClient } from "../db.ts";
import { SyncError } from "../errors.ts";
import { nextFire } from "../worker/schedule.ts";
import { EXIT } from "./io.ts";
import type { Command } from "./main.ts";
import { integerOption } from "./options.ts";

export const statusCommand: Command = {
  summary: "show the last runs and when the schedule fires next",
  usage: [
    "Usage: elements-sync status [--runs N] [--json]",
    "",
    "Prints the last runs recorded in sync_runs, newest first, and the next time the",
    "SYNC_CRON schedule fires in SYNC_TIMEZONE. Reads the database, changes nothing.",
    "",
    "Options:",
    "  --runs N   how many runs to show (default 10, up to 1000)",
    "  --json     print JSON instead of a table",
  ].join("\n"),
  options: {
    runs: { type: "string" },
    json: { type: "boolean" },
  },
  async run(values, io) {
    loadDotEnv();
    const {
      database,
      databaseTimeout,
      worker: schedule,
    } = readConfig(process.env, ["database", "databaseTimeout", "worker"]);
    const limit = integerOption(values, "runs", { min: 1, max: 1000, fallback: 10 });
    const db = openDatabase(database.url, databaseTimeout);
    try {
      // Through pg first: a database that cannot be reached fails with pg's one-line error, not Prisma's several.
      await db.pool.query("SELECT 1");
      const runs = await lastRuns(db.prisma, limit);
      const status: Status = {
        schedule: {
          cron: schedule.cron,
          timezone: schedule.timezone,
          nextFireAt: nextFire(schedule.cron, schedule.timezone)?.toISOString() ?? null,
        },
        runs,
      };
      io.out(values.json === true ? JSON.stringify(status, null, 2) : formatStatus(status));
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

export interface RunRow {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  status: string;
  complete: boolean;
  scheduledFor: string | null;
  customerFilter: string | null;
  customersSeen: number;
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
  rejectedRecords: number;
  incompleteReason: string | null;
  error: string | null;
  removalsWithheld: number;
  warning: string | null;
}

interface Status {
  schedule: { cron: string; timezone: string; nextFireAt: string | null };
  runs: RunRow[];
}

async function lastRuns(prisma: PrismaClient, limit: number): Promise<RunRow[]> {
  try {
    const rows = await prisma.$queryRaw<
      (Omit<RunRow, "startedAt" | "finishedAt" | "scheduledFor"> & {
        startedAt: Date;
        finishedAt: Date | null;
        scheduledFor: Date | null;
      })[]
    >`
      SELECT id, started_at AS "startedAt", finished_at AS "finishedAt",
             -- a running run's duration is how long it has been going
             (extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at) * 1000)::float8
               AS "durationMs",
             status, complete, scheduled_for AS "scheduledFor", customer_filter AS "customerFilter",
             customers_seen AS "customersSeen", customers_added AS "customersAdded",
             customers_removed AS "customersRemoved", customers_restored AS "customersRestored",
             status_changes AS "statusChanges", rejected_records AS "rejectedRecords",
             incomplete_reason AS "incompleteReason", error,
             removals_withheld AS "removalsWithheld", warning
      FROM sync_runs ORDER BY id DESC LIMIT ${limit}::int`;
    return rows.map((row) => ({
      ...row,
      startedAt: row.startedAt.toISOString(),
      finishedAt: row.finishedAt?.toISOString() ?? null,
      scheduledFor: row.scheduledFor?.toISOString() ?? null,
    }));
  } catch (error) {
    if (isMissingTable(error)) {
      throw new SyncError(
        "The database has no elements-sync tables yet: run `elements-sync migrate` (or a sync) first.",
      );
    }
    throw error;
  }
}

function isMissingTable(error: unknown): boolean {
  return /sync_runs.*does not exist|relation .* does not exist|42P01/.test(String(error));
}

const COLUMNS: { title: string; value(run: RunRow): string; right?: boolean }[] = [
  { title: "run", value: (run) => String(run.id), right: true },
  { title: "started (UTC)", value: (run) => utc(run.startedAt) },
  { title: "duration", value: (run) => duration(run.durationMs), right: true },
  { title: "status", value: (run) => run.status },
  { title: "trigger", value: (run) => trigger(run) },
  { title: "complete", value: (run) => (run.complete ? "yes" : "no") },
  { title: "seen", value: (run) => String(run.customersSeen), right: true },
  { title: "added", value: (run) => String(run.customersAdded), right: true },
  { title: "removed", value: (run) => String(run.customersRemoved), right: true },
  { title: "restored", value: (run) => String(run.customersRestored), right: true },
  { title: "status changes", value: (run) => String(run.statusChanges), right: true },
  // Why it failed, what needs a look although it succeeded, or why it was incomplete.
  {
    title: "note",
    value: (run) => shorten(run.error ?? run.warning ?? run.incompleteReason ?? ""),
  },
];

export function formatStatus(status: Status): string {
  const { schedule } = status;
  const next = schedule.nextFireAt ? utc(schedule.nextFireAt) : "never";
  const header = `schedule: ${schedule.cron} (${schedule.timezone}); next fire ${next} UTC`;
  if (status.runs.length === 0) return `${header}\nno runs yet`;
  const cells = status.runs.map((run) => COLUMNS.map((column) => column.value(run)));
  const widths = COLUMNS.map((column, index) =>
    Math.max(column.title.length, ...cells.map((row) => row[index]?.length ?? 0)),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => {
        const width = widths[index] ?? 0;
        return COLUMNS[index]?.right ? value.padStart(width) : value.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [header, "", line(COLUMNS.map((column) => column.title)), ...cells.map(line)].join("\n");
}

/** Long errors are cut in the table; --json has them whole. */
const ERROR_WIDTH = 80;

function shorten(text: string): string {
  return text.length > ERROR_WIDTH ? `${text.slice(0, ERROR_WIDTH - 1)}…` : text;
}

function utc(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "");
}

function duration(ms: number | null): string {
  if (ms === null) return "";
  // Round once, then split: 59.96 s is "1 min 0 s", never "60.0 s".
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

function trigger(run: RunRow): string {
  if (run.scheduledFor) return `cron ${utc(run.scheduledFor).slice(11)}`;
  return run.customerFilter ? `customer ${run.customerFilter}` : "on demand";
}
