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
//
// This file reads the arguments and runs the steps in order; database.ts, processes.ts,
// measures.ts and report.ts hold the rest.
import { parseArgs } from "node:util";
import { isResourceName } from "../src/elements/resources.ts";
import {
  dropDatabase,
  freshDatabase,
  historyRows,
  settledTableStats,
  tableDeltas,
} from "./database.ts";
import {
  REMOVAL_FRACTION,
  TARGETS,
  apiFloorMs,
  floorOf,
  measure,
  round,
  rowVersionsPerCustomer,
  targetsMet,
  type BaselineResult,
  type BenchSettings,
  type MeasuredRun,
  type RemovalResult,
  type SizeResult,
} from "./measures.ts";
import { startCpuSplit } from "./cpu.ts";
import { launcherHeapFlags, runWorker, startSimulator, stopChildren } from "./processes.ts";
import { printReport } from "./report.ts";
import { benchCommand, describeMachine, saveResults } from "./results.ts";
import type { WorkerJob } from "./sync-worker.ts";

// Per process, so that two benches on one server do not drop each other's database.
const DATABASE = `elements_sync_bench_${process.pid}`;

const OPTIONS = {
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
} as const;

/** Bad arguments: one line naming what is wrong, exit 2, nothing run. */
function usageError(message: string): never {
  process.stderr.write(`npm run bench: ${message}\n`);
  process.exit(2);
}

const { values: args } = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
})();
const workerFlags = (args["node-options"] ?? launcherHeapFlags()).split(" ").filter(Boolean);

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) usageError(`--${name} must be an integer ≥ 0`);
  return value;
}

const latencyMs = positive("latency", args.latency);
const concurrency = positive("concurrency", args.concurrency);
const pageSize = positive("page-size", args["page-size"]);
const baselineSize = positive("baseline", args.baseline);
const removals = positive("removals", args.removals);
const resources = args.resources.split(",").map((name) => {
  const trimmed = name.trim();
  if (!isResourceName(trimmed))
    usageError(`--resources: unknown resource ${trimmed} (customers, services, jobs)`);
  return trimmed;
});
if (!resources.includes("customers")) usageError("--resources: services and jobs need customers");
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
const settings: BenchSettings = {
  pageSize,
  concurrency,
  latencyMs,
  workerFlags,
  removals,
  resources,
};

async function measureSize(customers: number): Promise<SizeResult> {
  const n = customers.toLocaleString("en");
  log(`N = ${n}: starting the simulator`);
  const simulator = await startSimulator(customers, latencyMs);
  try {
    const databaseUrl = await freshDatabase(adminUrl, DATABASE);
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
      const cpuSplit = await startCpuSplit(simulator.pid, adminUrl, DATABASE);
      const result = await runWorker(job, workerFlags);
      const cpu = await cpuSplit(result.cpuMs, result.customers);
      const m = measure(result, floorOf(result, customers, settings), cpu);
      const rowVersions = tableDeltas(before, await settledTableStats(databaseUrl));
      return {
        run: { ...m, targetsMet: targetsMet(customers, m, resources), rowVersions },
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
        rowVersionsPerCustomer: rowVersionsPerCustomer(unchanged.rowVersions, customers),
        rowVersionsMet:
          rowVersionsPerCustomer(unchanged.rowVersions, customers) <=
          TARGETS.rowVersionsPerCustomer,
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
    const result = await runWorker(
      {
        mode: "sync",
        databaseUrl,
        apiUrl: simulator.url,
        pageSize,
        concurrency,
      },
      workerFlags,
    );
    return {
      present,
      leftOut: removals,
      lookup: result.removalLookup,
      customersRemoved: result.customersRemoved,
      removalsWithheld: result.removalsWithheld,
      removedAsExpected: result.customersRemoved === removals,
      run: measure(result, apiFloorMs(served, settings)),
    };
  } finally {
    await simulator.stop();
  }
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
    const run = async (mode: WorkerJob["mode"]) => {
      const databaseUrl = await freshDatabase(adminUrl, DATABASE);
      const cpuSplit = await startCpuSplit(simulator.pid, adminUrl, DATABASE);
      const result = await runWorker(job(mode, databaseUrl), workerFlags);
      return measure(result, 0, await cpuSplit(result.cpuMs, result.customers));
    };
    const sync = await run("sync");
    log("baseline: the naive loop (one Prisma call per row; this takes a while)");
    const naive = await run("naive");
    const speedup = round(naive.totalMs / sync.totalMs, 1);
    return { customers, naive, sync, speedup, speedupMet: speedup >= TARGETS.naiveSpeedup };
  } finally {
    await simulator.stop();
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

async function main(): Promise<boolean> {
  const machine = await describeMachine(adminUrl);
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measureSize(size));
  const baseline = baselineSize > 0 ? await measureBaseline(baselineSize) : undefined;

  printReport(results, baseline, settings);
  const report = {
    date: new Date().toISOString(),
    command: benchCommand("bench"),
    machine,
    settings,
    targets: { ...TARGETS, afterLastPageMs: Object.fromEntries(TARGETS.afterLastPageMs) },
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
  stopChildren();
  const exit = () => process.exit(130);
  dropDatabase(adminUrl, DATABASE).then(exit, exit);
}
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

try {
  if (!(await main())) process.exitCode = 1;
} catch (error) {
  // Interrupted, the runs fail as their children are stopped; onSignal ends the process.
  if (!interrupted.signal.aborted) throw error;
} finally {
  if (!interrupted.signal.aborted) await dropDatabase(adminUrl, DATABASE);
}
