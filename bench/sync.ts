// `npm run bench`: how fast a sync runs against the built-in simulator, how close it gets
// to the API's own limit, how long it takes after the last page, which row versions it
// writes, how long confirming removals takes, how much memory it takes, and how it compares
// with the naive loop. The simulator and every measured sync run in child processes of
// their own; each bench process works in a database of its own, dropped at the end.
//
//   npm run bench                  N = 10,000 and 100,000 at 50 ms per request, baseline at 10,000,
//                                  removal lookups for 10,000 customers after the N = 100,000 runs
//   npm run bench -- --large       adds N = 1,000,000
//   npm run bench -- --sizes 2000 --baseline 1000 --latency 20   (a quick check)
//   npm run bench -- --removals 200 ...   removal lookups for 200 customers (0: none)
//   npm run bench -- --out FILE ...       write the results to FILE
//   npm run bench -- --resources customers,services,jobs --sizes 10000 --baseline 0 --removals 0
//                                  all three resources: the floor is then every request the
//                                  run made (each resource's) × latency / concurrency
//
// Prints a table and writes bench/results/<date>.json (<date>-large.json with --large,
// <date>-custom.json with other options), or --out.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { createLogger } from "../src/logger.ts";
import { isResourceName } from "../src/elements/resources.ts";
import { migrate } from "../src/migrations.ts";
import { benchCommand, describeMachine, saveResults } from "./results.ts";
import type { RemovalLookup, WorkerJob, WorkerResult } from "./sync-worker.ts";

const ROOT = new URL("..", import.meta.url);
const CLI = new URL("bin/elements-sync.js", ROOT).pathname;
const WORKER = new URL("bench/sync-worker.ts", ROOT).pathname;
// Per process, so that two benches on one server do not drop each other's database.
const DATABASE = `elements_sync_bench_${process.pid}`;
const HISTORY_TABLES = [
  "customer_status_history",
  "customer_history",
  "tenant_history",
  "subscription_history",
  "backup_job_status_history",
] as const;
/** The mass-removal guard's default fraction, less a margin: the removal run must pass it. */
const REMOVAL_FRACTION = 0.1;

const { values: args } = parseArgs({
  options: {
    large: { type: "boolean", default: false },
    sizes: { type: "string" },
    baseline: { type: "string", default: "10000" },
    latency: { type: "string", default: "50" },
    concurrency: { type: "string", default: "4" },
    "page-size": { type: "string", default: "100" },
    removals: { type: "string", default: "10000" },
    out: { type: "string" },
    resources: { type: "string", default: "customers" },
    // V8 flags for the measured worker; by default those the launcher runs every command with.
    "node-options": { type: "string" },
  },
});
const workerFlags = (args["node-options"] ?? launcherHeapFlags()).split(" ").filter(Boolean);

/** The heap flags on bin/elements-sync.js's first line, so the benchmark runs the sync as users do. */
function launcherHeapFlags(): string {
  const shebang = readFileSync(new URL("../bin/elements-sync.js", import.meta.url), "utf8");
  return (shebang.split("\n")[0] ?? "")
    .split(" ")
    .filter((word) => word.startsWith("--max-"))
    .join(" ");
}

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be an integer`);
  return value;
}

const latencyMs = positive("latency", args.latency);
const concurrency = positive("concurrency", args.concurrency);
const pageSize = positive("page-size", args["page-size"]);
const baselineSize = positive("baseline", args.baseline);
const removals = positive("removals", args.removals);
const resources = args.resources.split(",").map((name) => {
  const trimmed = name.trim();
  if (!isResourceName(trimmed)) throw new Error(`--resources: unknown resource ${trimmed}`);
  return trimmed;
});
const sizes = (args.sizes ?? `10000,100000${args.large ? ",1000000" : ""}`)
  .split(",")
  .map((size) => positive("sizes", size.trim()));
// The cheapest size the removal run fits in under the guard.
const removalSize =
  removals > 0
    ? sizes.filter((size) => removals <= size * REMOVAL_FRACTION).sort((a, b) => a - b)[0]
    : undefined;
const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgresql://postgres@127.0.0.1:5432/postgres";

/** Issue 12's targets; a size without an entry has none. */
const TARGETS = {
  ratioToFloor: { max: 1.1, sizes: [100_000, 1_000_000] },
  afterLastPageMs: new Map([
    [100_000, 500],
    [1_000_000, 3_000],
  ]),
} as const;

/** Children still running, stopped if the bench is interrupted. */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

interface Simulator {
  url: string;
  stop(): Promise<void>;
}

/** `elements-sync simulate` in a child process; resolves once it is listening. */
function startSimulator(customers: number, latency: number): Promise<Simulator> {
  const child = spawn(
    process.execPath,
    [CLI, "simulate", "--customers", String(customers), "--latency", String(latency)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  track(child);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => {
      reject(new Error(`the simulator exited with ${code}`));
    });
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (!url) return;
      child.stdout.removeAllListeners("data");
      child.stdout.resume();
      resolve({
        url,
        async stop() {
          child.kill("SIGTERM");
          await exited;
        },
      });
    });
  });
}

/** One measured run in its own process. */
function runWorker(job: WorkerJob): Promise<WorkerResult> {
  const child = spawn(process.execPath, [...workerFlags, WORKER, JSON.stringify(job)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  track(child);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the ${job.mode} worker exited with ${code}`));
      else resolve(JSON.parse(output) as WorkerResult);
    });
  });
}

async function admin<T extends pg.QueryResultRow>(url: string, sql: string, params?: unknown[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function dropDatabase(): Promise<void> {
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
}

/** A freshly migrated, empty database; returns its URL. */
async function freshDatabase(): Promise<string> {
  await dropDatabase();
  await admin(adminUrl, `CREATE DATABASE ${DATABASE}`);
  const url = new URL(adminUrl);
  url.pathname = `/${DATABASE}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  try {
    await migrate(pool, { log: createLogger("warn") });
  } finally {
    await pool.end();
  }
  return url.toString();
}

/** Row versions a table gained, from pg_stat_user_tables. */
interface TableWrites {
  ins: number;
  upd: number;
  hotUpd: number;
  del: number;
}

type TableStats = Record<string, TableWrites>;

/**
 * pg_stat_user_tables once every backend that wrote has flushed its counts. A backend
 * flushes when it goes idle (at most once a second; later ones wait up to 10 s) and always
 * when it exits; the runs' backends exit when their process closes its pool. So: wait until
 * no other backend is connected to the database, then read (each read after
 * pg_stat_clear_snapshot(), so none comes from a cached snapshot) until two reads 100 ms
 * apart agree.
 */
async function settledTableStats(url: string): Promise<TableStats> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = performance.now() + 60_000;
    let previous: string | undefined;
    for (;;) {
      if (performance.now() > deadline) throw new Error("table statistics did not settle");
      const [others] = (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )
      ).rows;
      if ((others?.n ?? 0) > 0) {
        previous = undefined;
        await sleep(50);
        continue;
      }
      await client.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await client.query<{ name: string } & TableWrites>(
        `SELECT CASE WHEN schemaname = 'public' THEN relname ELSE schemaname || '.' || relname END AS name,
                n_tup_ins::float8 AS ins, n_tup_upd::float8 AS upd,
                n_tup_hot_upd::float8 AS "hotUpd", n_tup_del::float8 AS del
         FROM pg_stat_user_tables ORDER BY 1`,
      );
      const stats: TableStats = Object.fromEntries(
        rows.map(({ name, ...writes }) => [name, writes]),
      );
      const read = JSON.stringify(stats);
      if (read === previous) return stats;
      previous = read;
      await sleep(100);
    }
  } finally {
    await client.end();
  }
}

/** What each table gained from `before` to `after`; tables that gained nothing are left out. */
function tableDeltas(before: TableStats, after: TableStats): TableStats {
  const deltas: TableStats = {};
  for (const [name, now] of Object.entries(after)) {
    const then = before[name] ?? { ins: 0, upd: 0, hotUpd: 0, del: 0 };
    const delta = {
      ins: now.ins - then.ins,
      upd: now.upd - then.upd,
      hotUpd: now.hotUpd - then.hotUpd,
      del: now.del - then.del,
    };
    if (delta.ins !== 0 || delta.upd !== 0 || delta.hotUpd !== 0 || delta.del !== 0) {
      deltas[name] = delta;
    }
  }
  return deltas;
}

/** The API's own limit: every page once, `concurrency` at a time, each taking the latency. */
function apiFloorMs(customers: number, latency: number): number {
  return (Math.ceil(customers / pageSize) * latency) / concurrency;
}

/**
 * With services and jobs, the floor is every request the run made (a page of customers or
 * services, one customer's jobs), `concurrency` at a time, each taking the latency.
 */
function floorOf(result: WorkerResult, customers: number): number {
  if (resources.length === 1 || result.resources === null) return apiFloorMs(customers, latencyMs);
  const requests = result.resources.reduce((sum, r) => sum + r.requests, 0);
  return (requests * latencyMs) / concurrency;
}

interface RunMeasure {
  totalMs: number;
  apiFloorMs: number;
  ratioToFloor: number | null;
  fetchMs: number | null;
  mergeMs: number | null;
  /** Last page arrived -> commit: the run's afterLastPageMs, else its mergeMs (see source). */
  afterLastPageMs: number | null;
  afterLastPageSource: "afterLastPageMs" | "mergeMs" | null;
  rowsPerSecond: number;
  peakRssMb: number;
  customers: number;
  tenants: number;
  /** Requests and records per resource the run synced. */
  resources: Record<string, { requests: number; records: number; outcome: string }> | null;
}

function measure(result: WorkerResult, floorMs: number): RunMeasure {
  if (result.status !== "succeeded") throw new Error(`a run failed: ${result.error}`);
  // A build that merges only after the last page logs no afterLastPageMs: there the merge
  // (with the removal lookups before it) is that time.
  const afterLastPage = result.afterLastPageMs ?? result.mergeMs;
  return {
    totalMs: Math.round(result.totalMs),
    apiFloorMs: floorMs,
    ratioToFloor: floorMs > 0 ? round(result.totalMs / floorMs, 3) : null,
    fetchMs: result.fetchMs === null ? null : Math.round(result.fetchMs),
    mergeMs: result.mergeMs === null ? null : Math.round(result.mergeMs),
    afterLastPageMs: afterLastPage === null ? null : Math.round(afterLastPage),
    afterLastPageSource:
      result.afterLastPageMs !== null
        ? "afterLastPageMs"
        : result.mergeMs !== null
          ? "mergeMs"
          : null,
    rowsPerSecond: Math.round(((result.customers + result.tenants) * 1000) / result.totalMs),
    peakRssMb: round(result.maxRssKb / 1024, 1),
    customers: result.customers,
    tenants: result.tenants,
    resources:
      result.resources === null
        ? null
        : Object.fromEntries(
            result.resources.map((r) => [
              r.resource,
              { requests: r.requests, records: r.records, outcome: r.outcome },
            ]),
          ),
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Whether a run met issue 12's targets; null where a size has none. */
interface TargetsMet {
  ratioToFloor: boolean | null;
  afterLastPage: boolean | null;
}

function targetsMet(customers: number, m: RunMeasure): TargetsMet {
  const ratioApplies = (TARGETS.ratioToFloor.sizes as readonly number[]).includes(customers);
  const afterLimit = TARGETS.afterLastPageMs.get(customers);
  return {
    ratioToFloor:
      ratioApplies && m.ratioToFloor !== null ? m.ratioToFloor <= TARGETS.ratioToFloor.max : null,
    afterLastPage:
      afterLimit !== undefined && m.afterLastPageMs !== null
        ? m.afterLastPageMs <= afterLimit
        : null,
  };
}

type MeasuredRun = RunMeasure & { targetsMet: TargetsMet; rowVersions: TableStats };

interface RemovalResult {
  /** Customers present before the run, and how many the simulator then left out. */
  present: number;
  leftOut: number;
  lookup: RemovalLookup | null;
  customersRemoved: number | null;
  removalsWithheld: number | null;
  /** Whether the run removed exactly the customers left out. */
  removedAsExpected: boolean;
  run: RunMeasure;
}

interface SizeResult {
  customers: number;
  latencyMs: number;
  first: MeasuredRun;
  unchanged: MeasuredRun & {
    /** All three history tables together; per table in historyRows. */
    historyRowsWritten: number;
    historyRows: Record<string, number>;
  };
  removals?: RemovalResult;
}

/** History rows a run opened or closed, per history table. */
async function historyRows(url: string, runId: number | null): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const table of HISTORY_TABLES) {
    const [row] = await admin<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM ${table} WHERE opened_by_run_id = $1 OR closed_by_run_id = $1`,
      [runId],
    );
    rows[table] = row?.n ?? -1;
  }
  return rows;
}

async function measureSize(customers: number): Promise<SizeResult> {
  const n = customers.toLocaleString("en");
  log(`N = ${n}: starting the simulator`);
  const simulator = await startSimulator(customers, latencyMs);
  try {
    const databaseUrl = await freshDatabase();
    const job: WorkerJob = {
      mode: "sync",
      databaseUrl,
      apiUrl: simulator.url,
      pageSize,
      concurrency,
      resources,
    };
    const measured = async (): Promise<{ run: MeasuredRun; runId: number | null }> => {
      const before = await settledTableStats(databaseUrl);
      const result = await runWorker(job);
      const m = measure(result, floorOf(result, customers));
      const rowVersions = tableDeltas(before, await settledTableStats(databaseUrl));
      return {
        run: { ...m, targetsMet: targetsMet(customers, m), rowVersions },
        runId: result.runId,
      };
    };
    log(`N = ${n}: first run (empty database)`);
    const { run: first } = await measured();
    log(`N = ${n}: unchanged re-run`);
    const { run: unchanged, runId } = await measured();
    const history = await historyRows(databaseUrl, runId);
    const result: SizeResult = {
      customers,
      latencyMs,
      first,
      unchanged: {
        ...unchanged,
        historyRowsWritten: Object.values(history).reduce((sum, rows) => sum + rows, 0),
        historyRows: history,
      },
    };
    if (customers === removalSize) result.removals = await measureRemovals(databaseUrl, customers);
    return result;
  } finally {
    await simulator.stop();
  }
}

/**
 * A complete run against the same customers less the last `removals`: the simulator's
 * first n customers of a seed are those of any larger count, so every customer it leaves
 * out is one the database holds, and each must be confirmed gone by id before removal.
 */
async function measureRemovals(databaseUrl: string, present: number): Promise<RemovalResult> {
  const served = present - removals;
  log(
    `N = ${present.toLocaleString("en")}: removal lookups, the simulator serving ${served.toLocaleString("en")}`,
  );
  const simulator = await startSimulator(served, latencyMs);
  try {
    const result = await runWorker({
      mode: "sync",
      databaseUrl,
      apiUrl: simulator.url,
      pageSize,
      concurrency,
    });
    return {
      present,
      leftOut: removals,
      lookup: result.removalLookup,
      customersRemoved: result.customersRemoved,
      removalsWithheld: result.removalsWithheld,
      removedAsExpected: result.customersRemoved === removals,
      run: measure(result, apiFloorMs(served, latencyMs)),
    };
  } finally {
    await simulator.stop();
  }
}

interface BaselineResult {
  customers: number;
  naive: RunMeasure;
  sync: RunMeasure;
  speedup: number;
}

/** The naive loop and the sync, each into an empty database, with no added latency. */
async function measureBaseline(customers: number): Promise<BaselineResult> {
  log(`baseline at N = ${customers.toLocaleString("en")}, no added latency`);
  const simulator = await startSimulator(customers, 0);
  try {
    const job = (mode: WorkerJob["mode"], databaseUrl: string): WorkerJob => ({
      mode,
      databaseUrl,
      apiUrl: simulator.url,
      pageSize,
      concurrency,
    });
    const sync = measure(await runWorker(job("sync", await freshDatabase())), 0);
    log("baseline: the naive loop (one Prisma call per row; this takes a while)");
    const naive = measure(await runWorker(job("naive", await freshDatabase())), 0);
    return { customers, naive, sync, speedup: round(naive.totalMs / sync.totalMs, 1) };
  } finally {
    await simulator.stop();
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const seconds = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(2)} s`);
const count = (value: number) => value.toLocaleString("en");
const MISS = " ✗";
const marked = (text: string, met: boolean | null) => (met === false ? `${text}${MISS}` : text);

/** Per table with writes in either run: ins, upd, HOT, del of the first and the unchanged run. */
function writesTable(r: SizeResult): string[] {
  const names = [
    ...new Set([...Object.keys(r.first.rowVersions), ...Object.keys(r.unchanged.rowVersions)]),
  ].sort();
  const width = Math.max(5, ...names.map((name) => name.length));
  // A space before every cell: 1,000,000 fills a column of 9.
  const cells = (w: TableWrites | undefined) =>
    [w?.ins, w?.upd, w?.hotUpd, w?.del].map((v) => ` ${count(v ?? 0).padStart(9)}`).join("");
  const heads = ["ins", "upd", "HOT", "del"].map((head) => ` ${head.padStart(9)}`).join("");
  return [
    `${" ".repeat(width + 6)}${"first run".padStart(10).padEnd(40)}  ${"unchanged re-run".padStart(10)}`,
    `  N = ${count(r.customers)}`.padEnd(width + 6) + `${heads}  ${heads}`,
    ...names.map(
      (name) =>
        `    ${name.padEnd(width)}  ${cells(r.first.rowVersions[name])}  ${cells(r.unchanged.rowVersions[name])}`,
    ),
  ];
}

function printReport(results: SizeResult[], baseline: BaselineResult | undefined) {
  const lines = [
    "",
    `elements-sync benchmark: page size ${pageSize}, concurrency ${concurrency}, ${latencyMs} ms per request` +
      (workerFlags.length > 0 ? `, worker flags ${workerFlags.join(" ")}` : ""),
    "",
    "customers  run           total   API floor    ×floor      fetch  after last page     rows/s   peak RSS  history rows",
  ];
  for (const r of results) {
    for (const [label, m, history] of [
      ["first", r.first, "-"],
      ["unchanged", r.unchanged, String(r.unchanged.historyRowsWritten)],
    ] as const) {
      lines.push(
        [
          count(r.customers).padStart(9),
          label.padEnd(9),
          seconds(m.totalMs).padStart(9),
          seconds(m.apiFloorMs).padStart(10),
          marked(m.ratioToFloor?.toFixed(2) ?? "-", m.targetsMet.ratioToFloor).padStart(8),
          seconds(m.fetchMs).padStart(9),
          marked(seconds(m.afterLastPageMs), m.targetsMet.afterLastPage).padStart(15),
          count(m.rowsPerSecond).padStart(9),
          `${m.peakRssMb} MB`.padStart(9),
          history.padStart(12),
        ].join("  "),
      );
      if (m.resources !== null && resources.length > 1) {
        const each = Object.entries(m.resources).map(
          ([name, r]) => `${name} ${count(r.requests)} requests, ${count(r.records)} records`,
        );
        lines.push(`${" ".repeat(21)}(${each.join("; ")})`);
      }
    }
  }
  const fromMerge = results.some(
    (r) =>
      r.first.afterLastPageSource === "mergeMs" || r.unchanged.afterLastPageSource === "mergeMs",
  );
  lines.push(
    "",
    `Targets (issue 12; ${MISS.trim()} marks a miss): total ≤ ${TARGETS.ratioToFloor.max} × API floor at ` +
      `${TARGETS.ratioToFloor.sizes.map(count).join(" and ")}; after the last page ` +
      [...TARGETS.afterLastPageMs].map(([n, ms]) => `≤ ${seconds(ms)} at ${count(n)}`).join(", ") +
      ".",
    "After the last page: from the last page's arrival to the run's commit" +
      (fromMerge
        ? " (this build logs no afterLastPageMs: its mergeMs, lookups and merge after the last page)."
        : "."),
    "History rows: opened or closed by the unchanged re-run in " + HISTORY_TABLES.join(", ") + ".",
    "",
    "Row versions written per table (pg_stat_user_tables: ins = n_tup_ins, upd = n_tup_upd, HOT = n_tup_hot_upd, del = n_tup_del):",
  );
  for (const r of results) lines.push(...writesTable(r));
  const removal = results.find((r) => r.removals !== undefined)?.removals;
  if (removal) {
    const { lookup } = removal;
    lines.push(
      "",
      `Removal lookups: ${count(removal.present)} customers present, the API serving all but ${count(removal.leftOut)}: ` +
        (lookup === null
          ? "the run logged no lookup"
          : `${count(lookup.absent)} asked for by id in ${count(lookup.requests)} requests, ${seconds(lookup.durationMs)} (${count(lookup.gone)} gone, ${count(lookup.found)} found)`) +
        `; removed ${removal.customersRemoved === null ? "-" : count(removal.customersRemoved)}` +
        (removal.removedAsExpected ? "" : `${MISS} expected ${count(removal.leftOut)}`) +
        `; run total ${seconds(removal.run.totalMs)}, after the last page ${seconds(removal.run.afterLastPageMs)}.`,
    );
  } else if (removals > 0) {
    lines.push(
      "",
      `Removal lookups: not measured (no size of at least ${count(removals / REMOVAL_FRACTION)} customers for ${count(removals)} removals).`,
    );
  }
  if (baseline) {
    lines.push(
      "",
      `naive baseline at ${count(baseline.customers)} customers, no added latency:`,
      `  naive loop ${seconds(baseline.naive.totalMs)}, elements-sync ${seconds(baseline.sync.totalMs)}: ${baseline.speedup}× faster`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<boolean> {
  const machine = await describeMachine(adminUrl);
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measureSize(size));
  const baseline = baselineSize > 0 ? await measureBaseline(baselineSize) : undefined;

  printReport(results, baseline);
  const report = {
    date: new Date().toISOString(),
    command: benchCommand("bench"),
    machine,
    settings: { pageSize, concurrency, latencyMs, workerFlags, removals, resources },
    targets: {
      ratioToFloor: TARGETS.ratioToFloor,
      afterLastPageMs: Object.fromEntries(TARGETS.afterLastPageMs),
    },
    results,
    baseline,
  };
  // The default run and --large each keep one file a day; other settings are kept apart.
  const custom = process.argv.slice(2).some((arg) => arg !== "--large");
  const file = saveResults(custom ? "-custom" : args.large ? "-large" : "", report, args.out);
  process.stdout.write(`\nSaved ${file}\n`);
  return results.every((r) => r.removals?.removedAsExpected ?? true);
}

const interrupted = new AbortController();

/** Interrupted: stop the children, drop the database, exit. */
function onSignal(signal: NodeJS.Signals): void {
  interrupted.abort();
  log(`${signal}: stopping, dropping ${DATABASE}`);
  for (const child of children) child.kill("SIGTERM");
  const exit = () => process.exit(130);
  dropDatabase().then(exit, exit);
}
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

try {
  if (!(await main())) process.exitCode = 1;
} catch (error) {
  // Interrupted, the runs fail as their children are stopped; onSignal ends the process.
  if (!interrupted.signal.aborted) throw error;
} finally {
  if (!interrupted.signal.aborted) await dropDatabase();
}
