// How fast the manual's example queries answer on a large history: 100,000 customers with
// a year of nightly runs, built directly in SQL with generate_series (not synced through
// the API), then every `<!-- query: name -->` block of the manual (docs/reporting.md) timed
// as written.
//
//   npm run bench:reporting [-- --customers 100000 --days 365 --changes 8 --repeat 5]
//   npm run bench:reporting -- --reuse     time the queries again on the data built last time
//   npm run bench:reporting -- --out bench/results/name.json    save the results there
//
// Uses BENCH_DATABASE_URL when set (the database is emptied: its public and reporting
// schemas are dropped); otherwise (re)creates elements_sync_reporting_bench on 127.0.0.1:5432.
import { parseArgs } from "node:util";
import pg from "pg";
import { migrate } from "../src/migrations.ts";
import { exampleQueries } from "../test/support/manual.ts";
import { build, COUNTS } from "./reporting-data.ts";
import { benchCommand, describeMachine, saveResults } from "./results.ts";

const LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres";
const BENCH_DATABASE = "elements_sync_reporting_bench";
const TARGET_MS = 200;

interface Settings {
  customers: number;
  days: number;
  /** Average job-status changes per customer over the whole period. */
  changes: number;
  repeat: number;
  reuse: boolean;
  /** Where to save the results; bench/results/<date>-reporting.json when not given. */
  out: string | undefined;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      customers: { type: "string", default: "100000" },
      days: { type: "string", default: "365" },
      changes: { type: "string", default: "8" },
      repeat: { type: "string", default: "5" },
      reuse: { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  const positive = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    customers: positive("customers"),
    days: positive("days"),
    changes: positive("changes"),
    repeat: positive("repeat"),
    reuse: values.reuse,
    out: values.out,
  };
}

interface TenantKey {
  customerId: string;
  tenantId: string;
}

/** The tenant with the most periods (renamed twice if any is): the example queries' placeholder ids stand for it. */
async function renamedTenant(client: pg.Client): Promise<TenantKey> {
  const { rows } = await client.query<TenantKey>(
    `SELECT customer_id AS "customerId", tenant_id AS "tenantId" FROM tenant_history
     GROUP BY customer_id, tenant_id ORDER BY count(*) DESC, customer_id, tenant_id LIMIT 1`,
  );
  const [tenant] = rows;
  if (!tenant) throw new Error("the bench database has no tenant history");
  return tenant;
}

/** The example queries' ids are placeholders; put a real tenant's in, as test/readme.e2e.test.ts does. */
function withExampleIds(query: { name: string; sql: string }, tenant: TenantKey) {
  return {
    name: query.name,
    sql: query.sql
      .replace(/customer_id = '[^']*'/, `customer_id = '${tenant.customerId}'`)
      .replace(/tenant_id = '[^']*'/, `tenant_id = '${tenant.tenantId}'`),
  };
}

function localBenchUrl(): string {
  const url = new URL(LOCAL_SERVER);
  url.pathname = `/${BENCH_DATABASE}`;
  return url.toString();
}

async function benchDatabase(): Promise<string> {
  const fromEnv = process.env.BENCH_DATABASE_URL;
  if (fromEnv) {
    const client = new pg.Client({ connectionString: fromEnv });
    await client.connect();
    try {
      await client.query(
        "DROP SCHEMA IF EXISTS reporting, reporting_internal CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public",
      );
    } finally {
      await client.end();
    }
    return fromEnv;
  }
  const admin = new pg.Client({ connectionString: LOCAL_SERVER });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  } finally {
    await admin.end();
  }
  return localBenchUrl();
}

interface Timing {
  name: string;
  rows: number;
  executionMs: number;
  wallMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function time(
  client: pg.Client,
  query: { name: string; sql: string },
  repeat: number,
): Promise<Timing> {
  const sql = query.sql.trim().replace(/;$/, "");
  await client.query(sql); // warm-up
  const wall: number[] = [];
  const execution: number[] = [];
  let rows = 0;
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    rows = (await client.query(sql)).rowCount ?? 0;
    wall.push(performance.now() - started);
    const plan = await client.query<{ "QUERY PLAN": [{ "Execution Time": number }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
    );
    execution.push(plan.rows[0]?.["QUERY PLAN"][0]["Execution Time"] ?? Number.NaN);
  }
  return { name: query.name, rows, executionMs: median(execution), wallMs: median(wall) };
}

async function main(): Promise<void> {
  const settings = readSettings();
  const url = settings.reuse
    ? (process.env.BENCH_DATABASE_URL ?? localBenchUrl())
    : await benchDatabase();
  if (!settings.reuse) {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    await migrate(pool);
    await pool.end();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (!settings.reuse) {
      console.log(
        `Building ${settings.customers} customers, ${settings.days} nightly runs, ~${settings.changes} changes each:`,
      );
      await build(client, settings);
    }
    const { rows } = await client.query<Record<keyof typeof COUNTS, string>>(
      `SELECT ${Object.entries(COUNTS)
        .map(([name, table]) => `(SELECT count(*) FROM ${table}) AS "${name}"`)
        .join(", ")}`,
    );
    const counts = Object.fromEntries(
      Object.keys(COUNTS).map((name) => [name, Number(rows[0]?.[name as keyof typeof COUNTS])]),
    );
    console.log(
      `  ${Object.entries(counts)
        .map(([name, count]) => `${count} ${name}`)
        .join(", ")}\n`,
    );

    const example = await renamedTenant(client);
    const timings: Timing[] = [];
    for (const query of exampleQueries()) {
      timings.push(await time(client, withExampleIds(query, example), settings.repeat));
    }
    const width = Math.max(...timings.map((t) => t.name.length), 5);
    console.log(
      `${"query".padEnd(width)}  ${"rows".padStart(7)}  ${"execution ms".padStart(12)}  ${"wall ms".padStart(8)}  under ${TARGET_MS} ms`,
    );
    for (const t of timings) {
      console.log(
        `${t.name.padEnd(width)}  ${String(t.rows).padStart(7)}  ${t.executionMs.toFixed(1).padStart(12)}  ${t.wallMs.toFixed(1).padStart(8)}  ${t.executionMs < TARGET_MS ? "yes" : "NO"}`,
      );
    }
    console.log(
      `\nMedians of ${settings.repeat} runs after a warm-up. execution: EXPLAIN ANALYZE's Execution Time; wall: the query with every row fetched by node-pg.`,
    );
    const report = {
      date: new Date().toISOString(),
      command: benchCommand("bench:reporting"),
      machine: await describeMachine(url),
      settings,
      ...counts,
      targetMs: TARGET_MS,
      timings,
    };
    console.log(`Saved ${saveResults("-reporting", report, settings.out)}`);
  } finally {
    await client.end();
  }
}

await main();
