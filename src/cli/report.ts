// `elements-sync report changes|trend|runs`: the reporting views for people who do not use a
// BI tool, as aligned tables, CSV or JSON, and the trend as a self-contained HTML chart.
import { writeFile } from "node:fs/promises";
import { loadDotEnv, readConfig } from "../config.ts";
import { inTransaction, openDatabase, type Session } from "../db.ts";
import { JOB_STATUS_LABELS } from "../elements/codes.ts";
import { NotMigratedError, UsageError } from "../errors.ts";
import { renderTrendHtml } from "../reporting/chart.ts";
import {
  formatCsv,
  formatTable,
  plural,
  tableObjects,
  type CsvOptions,
  type Table,
} from "../reporting/format.ts";
import {
  CHANGE_KINDS,
  hasReportingViews,
  isUnknownTimeZone,
  readAttributeChanges,
  readChanges,
  readDaily,
  readRunResources,
  readRuns,
  setTimeZone,
  skipJit,
  type ChangeKind,
  type Since,
} from "../sql/reporting.ts";
import {
  attributeChangesForPeople,
  CHANGE_COLUMNS,
  DAILY_COLUMNS,
  dataTable,
  resourcesByRun,
  RUN_COLUMNS,
  runsForPeople,
  trendForPeople,
} from "../reporting/reports.ts";
import type { CommandRunner, OptionValues } from "./command.ts";
import { EXIT, type Io } from "./io.ts";
import { integerOption, listOption, stringOption } from "./options.ts";
import { didYouMean } from "../suggest.ts";

type Values = OptionValues;
type Format = "table" | "csv" | "json";

const SUBCOMMANDS = ["changes", "trend", "runs"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Changes shown under the chart of `report trend --html`. */
const CHART_CHANGES = 50;

export const reportCommand: CommandRunner = {
  async run(values, io, positionals) {
    const subcommand = readSubcommand(positionals);
    checkOptionsApply(subcommand, values);
    const format = readFormat(values);
    const csv: CsvOptions = { raw: values.raw === true, byteOrderMark: values.excel === true };
    const timeZone =
      stringOption(values, "time-zone") ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    loadDotEnv();
    const { database, databaseTimeout } = readConfig(process.env, ["database", "databaseTimeout"]);
    const db = openDatabase(database.url, {
      ...databaseTimeout,
      applicationName: "elements-sync report",
    });
    try {
      // One transaction: the time zone holds for it alone, and every query sees one snapshot.
      await inTransaction(db.pool, async (session) => {
        await useTimeZone(session, timeZone);
        await skipJit(session);
        if (!(await hasReportingViews(session))) {
          throw new NotMigratedError();
        }
        await printReport(session, subcommand, values, { io, format, csv, timeZone });
      });
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

interface Output {
  io: Io;
  format: Format;
  csv: CsvOptions;
  timeZone: string;
}

async function printReport(
  session: Session,
  subcommand: Subcommand,
  values: Values,
  { io, format, csv, timeZone }: Output,
): Promise<void> {
  if (subcommand === "changes") {
    const rows = await readAttributeChanges(session, {
      since: readSince(values),
      jobStatus: readStatus(values),
      kinds: readKinds(values),
      customerIds: listOption(values, "customer"),
      firstSeen: values["first-seen"] !== false,
      limit: values.limit === undefined ? undefined : readLimit(values, 20),
    });
    print(io, { format, csv }, attributeChangesForPeople(rows), dataTable(rows, CHANGE_COLUMNS));
  } else if (subcommand === "trend") {
    const days = integerOption(values, "days", { min: 1, max: 36600, fallback: 30 });
    const daily = await readDaily(session, days);
    const html = stringOption(values, "html");
    if (html !== undefined) {
      const firstDay = daily[0]?.day;
      const changes = await readChanges(session, {
        since: firstDay ? { kind: "day", day: firstDay } : parseSince(`${days}d`),
        limit: CHART_CHANGES,
      });
      await writeChart(html, daily, changes, timeZone);
      io.out(
        `wrote ${html}: ${plural(new Set(daily.map((row) => row.day)).size, "day")}, ${plural(changes.length, "latest change")}`,
      );
    } else {
      print(io, { format, csv }, trendForPeople(daily), dataTable(daily, DAILY_COLUMNS));
    }
  } else {
    const rows = await readRuns(session, readLimit(values, 20));
    const resources = await readRunResources(
      session,
      rows.map((row) => row.run_id),
    );
    print(
      io,
      { format, csv },
      runsForPeople(rows, resourcesByRun(resources)),
      dataTable(rows, RUN_COLUMNS),
    );
  }
}

function readSubcommand(positionals: readonly string[]): Subcommand {
  const [name, ...extra] = positionals;
  const known = SUBCOMMANDS.find((candidate) => candidate === name);
  if (!known) {
    throw new UsageError(
      name === undefined
        ? `say which report: ${SUBCOMMANDS.join(", ")}.`
        : `unknown report "${name}".${didYouMean(name, SUBCOMMANDS)} The reports are ${SUBCOMMANDS.join(", ")}.`,
    );
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra.join(" ")}".`);
  return known;
}

const OUTPUT_OPTIONS = ["format", "excel", "raw", "time-zone"];
const OPTIONS_OF: Record<Subcommand, readonly string[]> = {
  changes: ["since", "status", "kind", "customer", "first-seen", "limit", ...OUTPUT_OPTIONS],
  trend: ["days", "html", ...OUTPUT_OPTIONS],
  runs: ["limit", ...OUTPUT_OPTIONS],
};

function checkOptionsApply(subcommand: Subcommand, values: Values): void {
  const allowed = new Set([...OPTIONS_OF[subcommand], "help"]);
  const misplaced = Object.keys(values).find((name) => !allowed.has(name));
  if (misplaced !== undefined) {
    throw new UsageError(`--${misplaced} does not apply to report ${subcommand}.`);
  }
  const formatOption = ["format", "excel", "raw"].find((name) => values[name] !== undefined);
  if (values.html !== undefined && formatOption !== undefined) {
    throw new UsageError(`--html writes HTML; leave out --${formatOption}.`);
  }
}

function readFormat(values: Values): Format {
  const format = stringOption(values, "format") ?? (values.excel === true ? "csv" : "table");
  if (format !== "table" && format !== "csv" && format !== "json") {
    throw new UsageError(
      `--format must be table, csv or json; got "${format}".${didYouMean(format, ["table", "csv", "json"])}`,
    );
  }
  const csvOnly = ["excel", "raw"].find((name) => values[name] !== undefined);
  if (format !== "csv" && csvOnly !== undefined) {
    throw new UsageError(
      values.format === undefined
        ? `--${csvOnly} applies to CSV only; add --format csv.`
        : `--${csvOnly} applies to CSV only; it cannot go with --format ${format}.`,
    );
  }
  return format;
}

function readLimit(values: Values, fallback: number): number {
  return integerOption(values, "limit", { min: 1, max: 1_000_000, fallback });
}

const UNITS: Record<string, string> = { h: "hours", d: "days", w: "weeks" };

/** `24h`, `7d`, `2w` back from now, or a calendar day `YYYY-MM-DD` (from its midnight). */
export function parseSince(raw: string): Since {
  const duration = /^(\d{1,5})([hdw])$/.exec(raw);
  if (duration?.[1] !== undefined && duration[2] !== undefined) {
    return { kind: "duration", interval: `${duration[1]} ${UNITS[duration[2]] ?? "days"}` };
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (day && new Date(`${raw}T00:00:00Z`).toISOString().startsWith(raw)) {
    return { kind: "day", day: raw };
  }
  throw new UsageError(
    `--since must be a duration such as 24h, 7d or 2w, or a day such as 2026-11-20; got "${raw}".`,
  );
}

function readSince(values: Values): Since {
  return parseSince(stringOption(values, "since") ?? "7d");
}

function normalizeLabel(label: string): string {
  return label
    .toLowerCase()
    .replaceAll(/[-_\s]+/g, " ")
    .trim();
}

/** A job status code from a label (any case, `-` or `_` for spaces) or a number. */
export function parseJobStatus(raw: string): number {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  const wanted = normalizeLabel(raw);
  for (const [code, label] of JOB_STATUS_LABELS) if (normalizeLabel(label) === wanted) return code;
  const labels = [...JOB_STATUS_LABELS.values()].map((label) => `"${label}"`).join(", ");
  // Suggested as typed on a shell: "no-backup-update".
  const typed = (label: string) => normalizeLabel(label).replaceAll(" ", "-");
  const suggestion = didYouMean(typed(raw), [...JOB_STATUS_LABELS.values()].map(typed));
  throw new UsageError(
    `--status must be a job status code or one of ${labels}; got "${raw}".${suggestion}`,
  );
}

/** `--kind status,owner --kind tenant`: the kinds of change to show, each one known. */
function readKinds(values: Values): ChangeKind[] | undefined {
  const raw = listOption(values, "kind");
  if (raw === undefined) return undefined;
  return raw.map((given) => {
    const kind = CHANGE_KINDS.find((known) => known === given.toLowerCase());
    if (kind === undefined) {
      throw new UsageError(
        `--kind must be one or more of ${CHANGE_KINDS.join(", ")}; got "${given}".${didYouMean(given, CHANGE_KINDS)}`,
      );
    }
    return kind;
  });
}

function readStatus(values: Values): number | undefined {
  const raw = stringOption(values, "status");
  return raw === undefined ? undefined : parseJobStatus(raw);
}

async function useTimeZone(session: Session, timeZone: string): Promise<void> {
  try {
    await setTimeZone(session, timeZone);
  } catch (error) {
    if (!isUnknownTimeZone(error)) throw error;
    throw new UsageError(`--time-zone: PostgreSQL does not know the time zone "${timeZone}".`);
  }
}

function print(
  io: Io,
  { format, csv }: { format: Format; csv: CsvOptions },
  forPeople: Table,
  data: Table,
): void {
  if (format === "json") io.out(JSON.stringify(tableObjects(data), null, 2));
  else if (format === "csv") io.out(formatCsv(data, csv));
  else if (forPeople.rows.length === 0) io.out("(no rows)");
  else io.out(formatTable(forPeople));
}

async function writeChart(
  path: string,
  daily: Parameters<typeof renderTrendHtml>[0]["daily"],
  changes: Parameters<typeof renderTrendHtml>[0]["changes"],
  timeZone: string,
): Promise<void> {
  const html = renderTrendHtml({
    daily,
    changes,
    timeZone,
    generatedAt: new Date().toISOString(),
  });
  await writeFile(path, html);
}
