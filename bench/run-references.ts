// What checking references costs (issue 26): the histories' references to their runs, and
// the entity references (a tenant's to its customer, a period's to its customer or tenant).
// For N customers, inserted first, untimed: their 2N tenants, N status periods, N
// customer_history periods and 2N tenant_history periods, each table written by one
// set-based INSERT (as a run's merge writes a batch), timed four ways, each in a database
// of its own:
//   foreign keys  the migrations before 20261206100000_run_references_by_statement: a
//                 foreign key per reference, checked row by row;
//   statement     every migration: one trigger per statement checks the runs it names,
//                 one the parents it names, locking them FOR KEY SHARE;
//   no lock       every migration, the parents' trigger without its FOR KEY SHARE (only to
//                 say what the lock costs: the guarantee needs it);
//   none          every migration, then the run and parent triggers of the inserts dropped.
// Every period is opened by run 1 and every other one closed by run 2, as after two runs.
//
//   npm run bench:run-references [-- --rows 100000 --repeat 3 --one-transaction --out file.json]
//
// Uses the server of BENCH_DATABASE_URL (or TEST_DATABASE_URL, or 127.0.0.1:5432): it
// creates the four databases and drops them at the end. Prints numbers, asserts none.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createLogger } from "../src/logger.ts";
import { migrate, MIGRATIONS_DIR, readMigrations } from "../src/migrations.ts";
import { dropDatabase, HISTORY_TABLES } from "./database.ts";
import { benchCommand, describeMachine, saveResults } from "./results.ts";

const RUN_REFERENCES_MIGRATION = "20261206100000_run_references_by_statement";
/** The lock of entity_parents_exist (migration 20261206110000_entity_references_by_statement). */
const PARENTS_LOCK = "FOR KEY SHARE OF p";
/** The timed tables whose inserts the migrations check by statement, with their triggers. */
const CHECKED_TABLES = ["tenants", ...HISTORY_TABLES] as const;

const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgresql://postgres@127.0.0.1:5432/postgres";

interface Settings {
  rows: number;
  repeat: number;
  /** Where to save the results (default bench/results/<today>-run-references.json). */
  out: string | undefined;
  /**
   * All of a trial in one transaction, customers included, as a run's merge does: a parent
   * is then locked once, by the first statement that names it (--one-transaction).
   */
  oneTransaction: boolean;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      rows: { type: "string", default: "100000" },
      repeat: { type: "string", default: "3" },
      "one-transaction": { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  const positive = (name: "rows" | "repeat"): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    rows: positive("rows"),
    repeat: positive("repeat"),
    out: values.out,
    oneTransaction: values["one-transaction"],
  };
}

type Way = "foreignKeys" | "statement" | "noLock" | "none";
const WAYS: readonly Way[] = ["foreignKeys", "statement", "noLock", "none"];
const WAY_LABELS: Record<Way, string> = {
  foreignKeys: "(a) foreign keys",
  statement: "(b) per statement",
  noLock: "(c) b, no lock",
  none: "(d) no check",
};

/** The timed statements: $1 is N. Run 2 closes the even-numbered periods. */
const STATEMENTS: { table: string; rowsPerN: number; sql: string }[] = [
  {
    table: "tenants",
    rowsPerN: 2,
    sql: `INSERT INTO tenants (customer_id, id, name, first_seen_at, last_seen_at)
          SELECT 'customer ' || n, 'tenant ' || k, 'tenant-' || n || '-' || k || '.onmicrosoft.com',
                 now(), now()
          FROM generate_series(1, $1::int) AS n CROSS JOIN generate_series(1, 2) AS k`,
  },
  {
    table: "customer_status_history",
    rowsPerN: 1,
    sql: `INSERT INTO customer_status_history (customer_id, job_status, management_mode, removed,
                                                valid_from, valid_to, opened_by_run_id, closed_by_run_id)
          SELECT 'customer ' || n, n % 7, n % 3, false, r1.started_at,
                 CASE WHEN n % 2 = 0 THEN r2.started_at END, 1, CASE WHEN n % 2 = 0 THEN 2 END
          FROM generate_series(1, $1::int) AS n
          CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 1) r1
          CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 2) r2`,
  },
  {
    table: "customer_history",
    rowsPerN: 1,
    sql: `INSERT INTO customer_history (customer_id, organization, owner_email, country_or_region,
                                         job_status, management_mode, removed, valid_from, valid_to,
                                         opened_by_run_id, closed_by_run_id)
          SELECT 'customer ' || n, 'Organization ' || n, 'admin' || n || '@example.com', 'US',
                 n % 7, n % 3, false, r1.started_at,
                 CASE WHEN n % 2 = 0 THEN r2.started_at END, 1, CASE WHEN n % 2 = 0 THEN 2 END
          FROM generate_series(1, $1::int) AS n
          CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 1) r1
          CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 2) r2`,
  },
  {
    table: "tenant_history",
    rowsPerN: 2,
    sql: `INSERT INTO tenant_history (customer_id, tenant_id, name, removed, valid_from, valid_to,
                                       opened_by_run_id, closed_by_run_id)
          SELECT 'customer ' || n, 'tenant ' || k, 'tenant-' || n || '-' || k || '.onmicrosoft.com',
                 false, r1.started_at, CASE WHEN n % 2 = 0 THEN r2.started_at END,
                 1, CASE WHEN n % 2 = 0 THEN 2 END
          FROM generate_series(1, $1::int) AS n CROSS JOIN generate_series(1, 2) AS k
          CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 1) r1
          CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 2) r2`,
  },
];

/** Empties the entities and their histories, then inserts N customers. */
const PREPARE = `
  TRUNCATE customers, tenants, customer_status_history, customer_history, tenant_history CASCADE;
  INSERT INTO customers (id, organization, owner_email, job_status, country_or_region,
                         management_mode, first_seen_at, last_seen_at)
  SELECT 'customer ' || n, 'Organization ' || n, 'admin' || n || '@example.com', n % 7, 'US',
         n % 3, now(), now()
  FROM generate_series(1, $N) AS n;`;

/** A folder with the migrations before the run references one; the caller removes it. */
async function migrationsBeforeRunReferences(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "es-run-references-"));
  for (const { name } of await readMigrations(MIGRATIONS_DIR)) {
    if (name < RUN_REFERENCES_MIGRATION)
      cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  }
  return dir;
}

const databaseName = (way: Way) => `elements_sync_run_references_${way.toLowerCase()}`;

async function createDatabase(way: Way): Promise<{ name: string; url: string }> {
  const name = databaseName(way);
  await dropDatabase(adminUrl, name);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  const before = way === "foreignKeys" ? await migrationsBeforeRunReferences() : undefined;
  try {
    await migrate(pool, { log: createLogger("warn"), migrationsDir: before });
    if (way === "noLock") await dropParentsLock(pool);
    if (way === "none") {
      for (const table of CHECKED_TABLES) {
        if (table !== "tenants")
          await pool.query(`DROP TRIGGER ${table}_runs_exist_insert ON ${table}`);
        await pool.query(`DROP TRIGGER ${table}_parents_exist_insert ON ${table}`);
      }
    }
    await pool.query(
      `INSERT INTO sync_runs (id, started_at, finished_at, status, complete)
       VALUES (1, now() - interval '2 days', now() - interval '2 days', 'succeeded', true),
              (2, now() - interval '1 day', now() - interval '1 day', 'succeeded', true)`,
    );
  } finally {
    await pool.end();
    if (before) rmSync(before, { recursive: true, force: true });
  }
  return { name, url: url.toString() };
}

/** entity_parents_exist as migrated, less its FOR KEY SHARE. */
async function dropParentsLock(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ def: string }>(
    "SELECT pg_get_functiondef('entity_parents_exist'::regproc) AS def",
  );
  const def = rows[0]?.def ?? "";
  if (!def.includes(PARENTS_LOCK)) throw new Error(`entity_parents_exist has no ${PARENTS_LOCK}`);
  await pool.query(def.replace(PARENTS_LOCK, ""));
}

interface Sample {
  /** The INSERT's wall time, EXPLAIN ANALYZE included (the same for each way). */
  wallMs: number;
  /** The time EXPLAIN ANALYZE gives the run-reference checks: the foreign keys' or the trigger's. */
  runChecksMs: number;
  /** The same for the entity references (to the customer, tenant). */
  entityChecksMs: number;
}

interface PlanTrigger {
  "Trigger Name": string;
  "Constraint Name"?: string;
  Time: number;
}

/** Whether an AFTER trigger of the plan checks run references. */
function checksRuns(trigger: PlanTrigger): boolean {
  return (
    (trigger["Constraint Name"] ?? "").endsWith("_by_run_id_fkey") ||
    trigger["Trigger Name"].endsWith("_runs_exist_insert")
  );
}

/** Whether it checks an entity reference (the customer, the tenant). */
function checksParents(trigger: PlanTrigger): boolean {
  const constraint = trigger["Constraint Name"] ?? "";
  return (
    (constraint.endsWith("_fkey") && !constraint.endsWith("_by_run_id_fkey")) ||
    trigger["Trigger Name"].endsWith("_parents_exist_insert")
  );
}

/**
 * One trial: the four INSERTs, after the customers are in. Each runs under
 * EXPLAIN ANALYZE, which times every AFTER trigger: the checks' own cost, apart from the
 * insert's, which the machine's other load blurs.
 */
async function trial(client: pg.Client, rows: number, oneTransaction: boolean): Promise<Sample[]> {
  if (oneTransaction) await client.query("BEGIN");
  await client.query(PREPARE.replaceAll("$N", String(rows)));
  // Not in a multi-statement query; VACUUM not in a transaction.
  await client.query(oneTransaction ? "ANALYZE customers" : "VACUUM ANALYZE customers");
  const samples: Sample[] = [];
  for (const statement of STATEMENTS) {
    const started = performance.now();
    const { rows: plan } = await client.query<{ "QUERY PLAN": [{ Triggers?: PlanTrigger[] }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.sql}`,
      [rows],
    );
    const wallMs = performance.now() - started;
    const triggers = plan[0]?.["QUERY PLAN"][0].Triggers ?? [];
    const time = (checks: (trigger: PlanTrigger) => boolean) =>
      triggers.filter(checks).reduce((sum, t) => sum + t.Time, 0);
    samples.push({ wallMs, runChecksMs: time(checksRuns), entityChecksMs: time(checksParents) });
    // The tenants the histories name, as the merge has them: analyzed.
    if (statement.table === "tenants") await client.query("ANALYZE tenants");
  }
  if (oneTransaction) await client.query("COMMIT");
  return samples;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function byWay<T>(value: (way: Way) => T): Record<Way, T> {
  return {
    foreignKeys: value("foreignKeys"),
    statement: value("statement"),
    noLock: value("noLock"),
    none: value("none"),
  };
}

function printTable(
  title: string,
  lines: { label: string; rows: number; ms: Record<Way, number> }[],
): void {
  const width = 24;
  const cell = (ms: number) => `${ms.toFixed(0)} ms`.padStart(18);
  console.log(
    `\n${title.padEnd(width)}${"rows".padStart(8)}${WAYS.map((way) => WAY_LABELS[way].padStart(18)).join("")}`,
  );
  for (const line of lines) {
    console.log(
      `${line.label.padEnd(width)}${String(line.rows).padStart(8)}${WAYS.map((way) => cell(line.ms[way])).join("")}`,
    );
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const clients = new Map<Way, pg.Client>();
  try {
    for (const way of WAYS) {
      const database = await createDatabase(way);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      clients.set(way, client);
    }
    // trials[way][round] = one sample per statement. The ways take turns, so load from
    // others sharing the machine falls on all four alike; the first round warms up, uncounted.
    const trials = byWay((): Sample[][] => []);
    for (let round = 0; round <= settings.repeat; round++) {
      for (const way of WAYS) {
        const client = clients.get(way);
        if (!client) throw new Error(`no database for ${way}`);
        const samples = await trial(client, settings.rows, settings.oneTransaction);
        if (round > 0) trials[way].push(samples);
      }
      console.log(round === 0 ? "  warm-up done" : `  round ${round} of ${settings.repeat} done`);
    }

    const of = (way: Way, i: number) =>
      trials[way].map(
        (samples): Sample => samples[i] ?? { wallMs: NaN, runChecksMs: NaN, entityChecksMs: NaN },
      );
    const results = STATEMENTS.map((statement, i) => ({
      table: statement.table,
      rows: statement.rowsPerN * settings.rows,
      wallMs: byWay((way) => median(of(way, i).map((sample) => sample.wallMs))),
      runChecksMs: byWay((way) => median(of(way, i).map((sample) => sample.runChecksMs))),
      entityChecksMs: byWay((way) => median(of(way, i).map((sample) => sample.entityChecksMs))),
      samples: byWay((way) => of(way, i)),
    }));
    const allRows = results.reduce((sum, result) => sum + result.rows, 0);
    const total = (metric: keyof Sample) =>
      byWay((way) =>
        median(
          trials[way].map((samples) => samples.reduce((sum, sample) => sum + sample[metric], 0)),
        ),
      );
    const all = {
      wallMs: total("wallMs"),
      runChecksMs: total("runChecksMs"),
      entityChecksMs: total("entityChecksMs"),
    };

    printTable("INSERT into (wall)", [
      ...results.map((r) => ({ label: r.table, rows: r.rows, ms: r.wallMs })),
      { label: "all four", rows: allRows, ms: all.wallMs },
    ]);
    printTable("of which run checks", [
      ...results.map((r) => ({ label: r.table, rows: r.rows, ms: r.runChecksMs })),
      { label: "all four", rows: allRows, ms: all.runChecksMs },
    ]);
    printTable("and entity checks", [
      ...results.map((r) => ({ label: r.table, rows: r.rows, ms: r.entityChecksMs })),
      { label: "all four", rows: allRows, ms: all.entityChecksMs },
    ]);
    console.log(
      `\nMedians of ${settings.repeat} rounds after a warm-up round; each statement one INSERT … SELECT under EXPLAIN ANALYZE, ` +
        (settings.oneTransaction
          ? "all in one transaction with the customers'."
          : "autocommitted.") +
        "\nThe checks: the time EXPLAIN ANALYZE gives the foreign keys' triggers (to sync_runs; to the customer or tenant), or the statement's triggers." +
        "\nBy statement, a trigger's time leaves out storing the transition table, which the wall time holds.",
    );

    const report = {
      date: new Date().toISOString(),
      command: benchCommand("bench:run-references"),
      machine: await describeMachine(adminUrl),
      settings,
      ways: WAY_LABELS,
      results,
      all,
    };
    console.log(`Saved ${saveResults("-run-references", report, settings.out)}`);
  } finally {
    for (const client of clients.values()) await client.end();
    for (const way of WAYS) await dropDatabase(adminUrl, databaseName(way));
  }
}

await main();
