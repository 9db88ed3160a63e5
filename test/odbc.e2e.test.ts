// The reporting views as a BI tool reads them over ODBC: Debian's psqlODBC driver through
// unixODBC (what Power BI, Excel and Tableau use by way of an ODBC data source), driven from
// Python's pyodbc, logged in as a role made by `elements-sync bi-access`, with the data
// source docs/reporting.md gives. CI installs odbc-postgresql, unixodbc and python3-pyodbc (.ci/run).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { onAdmin } from "./support/database.ts";
import {
  createHarness,
  sampleCustomers,
  serveChangedSource,
  type Harness,
} from "./support/harness.ts";
import { manualText } from "./support/manual.ts";
import {
  observeJob,
  observeSubscription,
  recordResources,
  type FixtureRun,
} from "./support/resource-fixtures.ts";

/** Debian's Python, the one python3-pyodbc installs into. */
const PYTHON = process.env.ODBC_PYTHON ?? "/usr/bin/python3";
const READER = fileURLToPath(new URL("./support/odbc-read.py", import.meta.url));
const MANUAL = manualText();

const suffix = randomBytes(4).toString("hex");
const ROLE = `bi_odbc_${suffix}`;
const PASSWORD = "odbc reader's password";
const TIME_ZONE = "Asia/Tokyo";
/** Longer than the driver's default varchar of 255 characters, and outside Latin-1. */
const LONG_NAME = `Zürich & 東京 Ltd. ${"😀".repeat(3)} ${"long name ".repeat(40)}`.trim();

// ODBC's SQL data type codes (sql.h, sqlext.h, sqlucode.h).
const SQL = {
  integer: 4,
  bigint: -5,
  numeric: 2,
  bit: -7,
  wvarchar: -9,
  wlongvarchar: -10,
  varchar: 12,
  typeDate: 91,
  typeTimestamp: 93,
} as const;

/** What each PostgreSQL type of a view column must arrive as: SQL type and Python value type. */
const EXPECTED: Record<string, { sqlType: number; python: string }> = {
  integer: { sqlType: SQL.integer, python: "int" },
  bigint: { sqlType: SQL.bigint, python: "int" },
  numeric: { sqlType: SQL.numeric, python: "Decimal" },
  boolean: { sqlType: SQL.bit, python: "bool" },
  text: { sqlType: SQL.wvarchar, python: "str" },
  "timestamp with time zone": { sqlType: SQL.typeTimestamp, python: "datetime" },
  date: { sqlType: SQL.typeDate, python: "date" },
  // source_record and new_fields: their PostgreSQL text (`{"id": …}`, `{a,b}`), whole.
  jsonb: { sqlType: SQL.wvarchar, python: "str" },
  ARRAY: { sqlType: SQL.wvarchar, python: "str" },
};

interface OdbcColumn {
  name: string;
  sql_type: number;
  type_name: string;
  size: number | null;
}

interface OdbcRead {
  columns: OdbcColumn[];
  value_types: Record<string, string[]>;
  rows: unknown[][];
}

/** The `[elements]` data source of README's odbc.ini, pointed at `url`'s server and database. */
function readmeDataSource(url: URL): string {
  const match = /<!-- odbc-dsn -->\s*```ini\n([\s\S]*?)```/.exec(MANUAL);
  if (!match?.[1]) throw new Error("the manual has no odbc.ini example marked <!-- odbc-dsn -->");
  const place: Record<string, string> = {
    Servername: url.hostname,
    Port: url.port || "5432",
    Database: url.pathname.slice(1),
  };
  return match[1]
    .split("\n")
    .map((line) => line.replace(/^\s+/, ""))
    .map((line) => {
      const key = /^(\w+)\s*=/.exec(line)?.[1];
      return key !== undefined && key in place ? `${key} = ${place[key] ?? ""}` : line;
    })
    .join("\n");
}

let h: Harness;
let dir: string;
let views: { view: string; columns: { name: string; type: string }[] }[];

/** README's connection string, pointed at `url`'s server and database, with the role's login. */
function readmeConnectionString(url: URL): string {
  const match = /<!-- odbc-connection-string -->\s*```text\n\s*(.*)\n\s*```/.exec(MANUAL);
  if (!match?.[1])
    throw new Error("the manual has no connection string marked <!-- odbc-connection-string -->");
  const place: Record<string, string> = {
    Server: url.hostname,
    Port: url.port || "5432",
    Database: url.pathname.slice(1),
  };
  const pairs = match[1].split(";").map((pair) => {
    const [key = "", value = ""] = pair.split("=");
    return `${key}=${place[key] ?? value}`;
  });
  return [...pairs, `UID=${ROLE}`, `PWD={${PASSWORD}}`].join(";");
}

/** The data source `elements` of README's odbc.ini, with the role's login. */
const DSN = `DSN=elements;UID=${ROLE};PWD={${PASSWORD}}`;

/**
 * Every reporting view read through ODBC with `connection`, where DSN=elements is the data
 * source in `odbcIni`.
 */
async function readOverOdbc(
  odbcIni: string,
  connection: string = DSN,
): Promise<Record<string, OdbcRead>> {
  const ini = join(dir, `odbc-${randomBytes(3).toString("hex")}.ini`);
  writeFileSync(ini, odbcIni);
  const queries = join(dir, "queries.json");
  writeFileSync(
    queries,
    JSON.stringify(
      Object.fromEntries(
        views.map(({ view, columns }) => [
          view,
          {
            table: `reporting.${view}`,
            sql: `SELECT * FROM reporting.${view} ORDER BY ${columns.map((_, n) => n + 1).join(", ")}`,
          },
        ]),
      ),
    ),
  );
  const { stdout } = await promisify(execFile)(PYTHON, [READER, connection, queries], {
    env: { PATH: process.env.PATH ?? "", ODBCINI: ini },
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: unknown) => {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(
      `reading over ODBC failed (needs Debian's odbc-postgresql, unixodbc and python3-pyodbc; .ci/run installs them): ${stderr || String(error)}`,
    );
  });
  return JSON.parse(stdout) as Record<string, OdbcRead>;
}

/** The same rows read by node-pg in the role's time zone, in the shapes odbc-read.py prints. */
async function readOverPg(view: string, columns: { name: string; type: string }[]) {
  const select = columns.map(({ name, type }) => {
    const column = pg.escapeIdentifier(name);
    if (type === "timestamp with time zone") {
      return `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ${column}`;
    }
    return ["numeric", "date", "jsonb", "ARRAY"].includes(type)
      ? `${column}::text AS ${column}`
      : column;
  });
  const client = new pg.Client({ connectionString: h.db.url });
  await client.connect();
  try {
    await client.query("SELECT set_config('TimeZone', $1, false)", [TIME_ZONE]);
    const { rows } = await client.query<Record<string, unknown>>(
      `SELECT ${select.join(", ")} FROM reporting.${pg.escapeIdentifier(view)}
       ORDER BY ${columns.map((_, n) => n + 1).join(", ")}`,
    );
    // pg gives bigint as text; the reader's JSON gives a number (exact for these counts).
    return rows.map((row) =>
      columns.map(({ name, type }) =>
        type === "bigint" && row[name] !== null ? Number(row[name]) : row[name],
      ),
    );
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const customers = sampleCustomers(12);
  // Text a BI tool must get whole (LONG_NAME), and a customer without an organization (null).
  const [long, nameless] = customers;
  if (!long || !nameless) throw new Error("unreachable");
  long.organization = LONG_NAME;
  const served: unknown[] = customers.map((c) =>
    c === nameless ? { ...c, organization: null } : c,
  );
  h = await createHarness({ customers: served });
  // Two runs: added, changed and removed customers, open and closed periods, both booleans.
  await serveChangedSource(h, customers);
  expect(await h.sync()).toMatchObject({ status: "succeeded" });
  await addJobsAndSubscriptions();

  dir = mkdtempSync(join(tmpdir(), "elements-sync-odbc-"));
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, PASSWORD);
  const made = await runCli(["bi-access", ROLE, "--password-file", passwordFile], {
    DATABASE_URL: h.db.url,
  });
  expect(made).toMatchObject({ code: 0, stderr: "" });
  // README: ODBC timestamps carry no zone; they arrive in the role's time zone.
  await h.db.query(`ALTER ROLE ${ROLE} SET timezone = '${TIME_ZONE}'`);

  const columns = await h.db.query<{ view: string; name: string; type: string }>(
    `SELECT table_name AS view, column_name AS name, data_type AS type
     FROM information_schema.columns WHERE table_schema = 'reporting'
     ORDER BY table_name, ordinal_position`,
  );
  views = [...new Set(columns.map((column) => column.view))].map((view) => ({
    view,
    columns: columns.filter((column) => column.view === view),
  }));
});

/**
 * Rows in every view of subscriptions, backup jobs and run resources, whatever the sync
 * records: a failing job with a status change, a subscription with a change and one without a
 * source (null), written as the merge writes them.
 */
async function addJobsAndSubscriptions(): Promise<void> {
  const [run1, run2] = await h.db.query<FixtureRun>(
    `SELECT id, started_at AS "startedAt" FROM sync_runs ORDER BY id`,
  );
  const [failing] = await h.db.query<{ id: string }>(
    "SELECT id FROM customers WHERE removed_at IS NULL AND job_status IN (2, 4, 5) ORDER BY id LIMIT 1",
  );
  if (!run1 || !run2 || !failing) throw new Error("two runs and a failing customer");
  const job = { customerId: failing.id, jobId: "odbc-job", name: LONG_NAME, failedCount: 3 };
  await observeJob(h.db, run1, { ...job, status: 1 });
  await observeJob(h.db, run2, { ...job, status: 3 });
  const subscription = {
    customerId: failing.id,
    service: "Cloud Backup for Microsoft 365",
    source: "AvePoint pooled subscription",
    expirationDate: new Date(Date.now() + 20 * 86_400_000),
  };
  await observeSubscription(h.db, run1, { ...subscription, purchasedUserSeats: 10 });
  await observeSubscription(h.db, run2, { ...subscription, purchasedUserSeats: 12 });
  await observeSubscription(h.db, run2, { ...subscription, source: "", service: "Fly Migration" });
  await recordResources(h.db, run2.id, [
    { resource: "customers", outcome: "complete", requests: 2, records: 12 },
    { resource: "services", outcome: "skipped", reason: "no permission", requests: 1, records: 0 },
  ]);
}

afterAll(async () => {
  await (h as Harness | undefined)?.close();
  // After the database: its default privileges for the role go with it.
  await onAdmin(`DROP ROLE IF EXISTS ${ROLE}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the reporting views over ODBC (psqlODBC, README's data source)", () => {
  let read: Record<string, OdbcRead>;

  beforeAll(async () => {
    read = await readOverOdbc(readmeDataSource(new URL(h.db.url)));
  });

  it("types every column as what it is: numbers, booleans, timestamps, days and text", () => {
    expect(Object.keys(read).sort()).toEqual(views.map(({ view }) => view).sort());
    for (const { view, columns } of views) {
      const got = read[view];
      const expected = columns.map(({ name, type }) => ({
        name,
        sqlType: EXPECTED[type]?.sqlType ?? `unexpected PostgreSQL type ${type}`,
      }));
      expect({
        view,
        columns: got?.columns.map(({ name, sql_type }) => ({ name, sqlType: sql_type })),
      }).toEqual({ view, columns: expected });
      // Text with no declared length limit, so no tool cuts it at 255 or 8190 characters.
      for (const column of got?.columns ?? []) {
        if (column.sql_type === SQL.wvarchar)
          expect([view, column.name, column.size]).toEqual([view, column.name, 0]);
      }
    }
  });

  it("delivers values of those types, equal to what PostgreSQL holds", async () => {
    for (const { view, columns } of views) {
      const got = read[view];
      const rows = await readOverPg(view, columns);
      expect(rows.length, view).toBeGreaterThan(0);
      expect({ view, rows: got?.rows }).toEqual({ view, rows });
      for (const { name, type } of columns) {
        const seen = got?.value_types[name] ?? [];
        // A column null in every row has no value type; the others have exactly one.
        expect([view, name, seen]).toEqual([
          view,
          name,
          seen.length === 0 ? [] : [EXPECTED[type]?.python],
        ]);
      }
    }
    // Both booleans, nulls, and the long text whole.
    const customers = read.customers?.rows ?? [];
    const removedColumn =
      views
        .find(({ view }) => view === "customers")
        ?.columns.findIndex(({ name }) => name === "removed") ?? -1;
    expect(new Set(customers.map((row) => row[removedColumn]))).toEqual(new Set([true, false]));
    expect(customers.filter((row) => row.includes(LONG_NAME))).toHaveLength(1);
    expect(customers.some((row) => row.includes(null))).toBe(true);
  });

  it("gives timestamps in the role's time zone, to the microsecond", async () => {
    const [run] = await h.db.query<{ local: string }>(
      `SELECT to_char(started_at AT TIME ZONE $1, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS local
       FROM sync_runs ORDER BY id LIMIT 1`,
      [TIME_ZONE],
    );
    expect(read.sync_runs?.rows[0]?.[1]).toBe(run?.local);
  });
});

describe("README's connection string, for tools that take one instead of a data source", () => {
  it("types the columns the same way", async () => {
    const url = new URL(h.db.url);
    const withString = await readOverOdbc("", readmeConnectionString(url));
    const withDsn = await readOverOdbc(readmeDataSource(url));
    expect(withString.customers?.columns).toEqual(withDsn.customers?.columns);
    expect(withString.sync_runs?.columns).toEqual(withDsn.sync_runs?.columns);
    expect(withString.customers?.value_types.removed).toEqual(["bool"]);
  });
});

describe("the same views with the driver's defaults (why README sets three options)", () => {
  it("would give booleans as the text 1 or 0 and text as a long varchar of 8190", async () => {
    const defaults = readmeDataSource(new URL(h.db.url))
      .split("\n")
      .filter((line) => !/^(BoolsAsChar|TextAsLongVarchar|MaxVarcharSize)\b/.test(line))
      .join("\n");
    const read = await readOverOdbc(defaults);
    const column = (name: string) => read.customers?.columns.find((c) => c.name === name);
    expect(column("removed")).toMatchObject({ sql_type: SQL.varchar, size: 5 });
    expect(column("organization")).toMatchObject({ sql_type: SQL.wlongvarchar, size: 8190 });
    expect(read.customers?.value_types.removed).toEqual(["str"]);
  });
});
