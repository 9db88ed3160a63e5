// `npm run bench`: how fast a sync runs against the built-in simulator, how close it gets
// to the API's own limit, how much memory it takes, and how it compares with the naive
// loop. The simulator and every measured sync run in child processes of their own.
//
//   npm run bench                  N = 10,000 and 100,000 at 50 ms per request, baseline at 10,000
//   npm run bench -- --large       adds N = 1,000,000
//   npm run bench -- --sizes 2000 --baseline 1000 --latency 20   (a quick check)
//
// Prints a table and writes bench/results/<date>.json (<date>-large.json with --large,
// <date>-custom.json with other options).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { createLogger } from "../src/logger.ts";
import { migrate } from "../src/migrations.ts";
import { benchCommand, describeMachine, saveResults } from "./results.ts";
import type { WorkerJob, WorkerResult } from "./sync-worker.ts";

const ROOT = new URL("..", import.meta.url);
const CLI = new URL("bin/elements-sync.js", ROOT).pathname;
const WORKER = new URL("bench/sync-worker.ts", ROOT).pathname;
const DATABASE = "elements_sync_bench";

const { values: args } = parseArgs({
  options: {
    large: { type: "boolean", default: false },
    sizes: { type: "string" },
    baseline: { type: "string", default: "10000" },
    latency: { type: "string", default: "50" },
    concurrency: { type: "string", default: "4" },
    "page-size": { type: "string", default: "100" },
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
const sizes = (args.sizes ?? `10000,100000${args.large ? ",1000000" : ""}`)
  .split(",")
  .map((size) => positive("sizes", size.trim()));
const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgresql://postgres@127.0.0.1:5432/postgres";

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

/** A freshly migrated, empty database; returns its URL. */
async function freshDatabase(): Promise<string> {
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
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

/** The API's own limit: every page once, `concurrency` at a time, each taking the latency. */
function apiFloorMs(customers: number, latency: number): number {
  return (Math.ceil(customers / pageSize) * latency) / concurrency;
}

interface RunMeasure {
  totalMs: number;
  apiFloorMs: number;
  ratioToFloor: number | null;
  fetchMs: number | null;
  mergeMs: number | null;
  rowsPerSecond: number;
  peakRssMb: number;
  customers: number;
  tenants: number;
}

function measure(result: WorkerResult, floorMs: number): RunMeasure {
  if (result.status !== "succeeded") throw new Error(`a run failed: ${result.error}`);
  return {
    totalMs: Math.round(result.totalMs),
    apiFloorMs: floorMs,
    ratioToFloor: floorMs > 0 ? round(result.totalMs / floorMs, 3) : null,
    fetchMs: result.fetchMs === null ? null : Math.round(result.fetchMs),
    mergeMs: result.mergeMs === null ? null : Math.round(result.mergeMs),
    rowsPerSecond: Math.round(((result.customers + result.tenants) * 1000) / result.totalMs),
    peakRssMb: round(result.maxRssKb / 1024, 1),
    customers: result.customers,
    tenants: result.tenants,
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

interface SizeResult {
  customers: number;
  latencyMs: number;
  first: RunMeasure;
  unchanged: RunMeasure & { historyRowsWritten: number };
}

async function measureSize(customers: number): Promise<SizeResult> {
  log(`N = ${customers.toLocaleString("en")}: starting the simulator`);
  const simulator = await startSimulator(customers, latencyMs);
  try {
    const databaseUrl = await freshDatabase();
    const job: WorkerJob = {
      mode: "sync",
      databaseUrl,
      apiUrl: simulator.url,
      pageSize,
      concurrency,
    };
    const floor = apiFloorMs(customers, latencyMs);
    log(`N = ${customers.toLocaleString("en")}: first run (empty database)`);
    const first = measure(await runWorker(job), floor);
    log(`N = ${customers.toLocaleString("en")}: unchanged re-run`);
    const second = await runWorker(job);
    const [written] = await admin<{ n: number }>(
      databaseUrl,
      "SELECT count(*)::int AS n FROM customer_status_history WHERE opened_by_run_id = $1 OR closed_by_run_id = $1",
      [second.runId],
    );
    return {
      customers,
      latencyMs,
      first,
      unchanged: { ...measure(second, floor), historyRowsWritten: written?.n ?? -1 },
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

function printReport(results: SizeResult[], baseline: BaselineResult | undefined) {
  const lines = [
    "",
    `elements-sync benchmark: page size ${pageSize}, concurrency ${concurrency}, ${latencyMs} ms per request` +
      (workerFlags.length > 0 ? `, worker flags ${workerFlags.join(" ")}` : ""),
    "",
    "customers  run        total      API floor  ×floor  fetch      merge      rows/s    peak RSS  history rows",
  ];
  for (const r of results) {
    for (const [label, m, history] of [
      ["first", r.first, "-"],
      ["unchanged", r.unchanged, String(r.unchanged.historyRowsWritten)],
    ] as const) {
      lines.push(
        [
          r.customers.toLocaleString("en").padStart(9),
          label.padEnd(9),
          seconds(m.totalMs).padStart(9),
          seconds(m.apiFloorMs).padStart(10),
          (m.ratioToFloor?.toFixed(2) ?? "-").padStart(6),
          seconds(m.fetchMs).padStart(9),
          seconds(m.mergeMs).padStart(9),
          m.rowsPerSecond.toLocaleString("en").padStart(9),
          `${m.peakRssMb} MB`.padStart(9),
          history.padStart(13),
        ].join("  "),
      );
    }
  }
  if (baseline) {
    lines.push(
      "",
      `naive baseline at ${baseline.customers.toLocaleString("en")} customers, no added latency:`,
      `  naive loop ${seconds(baseline.naive.totalMs)}, elements-sync ${seconds(baseline.sync.totalMs)}: ${baseline.speedup}× faster`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  const machine = await describeMachine(adminUrl);
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measureSize(size));
  const baseline = baselineSize > 0 ? await measureBaseline(baselineSize) : undefined;
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);

  printReport(results, baseline);
  const report = {
    date: new Date().toISOString(),
    command: benchCommand("bench"),
    machine,
    settings: { pageSize, concurrency, latencyMs, workerFlags },
    results,
    baseline,
  };
  // The default run and --large each keep one file a day; other settings are kept apart.
  const custom = process.argv.slice(2).some((arg) => arg !== "--large");
  const file = saveResults(custom ? "-custom" : args.large ? "-large" : "", report);
  process.stdout.write(`\nSaved ${file}\n`);
}

await main();
