// What a bench run is judged by. A worker reports raw timings; these turn them into the
// figures the table prints and bench/results/*.json keeps (rounded once, here, so the two
// always agree), set each against the API's floor, and hold issue 12's targets so that a
// miss is marked the same way wherever it is shown.
import type { ResourceName } from "../src/elements/resources.ts";
import type { CpuSplit } from "./cpu.ts";
import type { TableStats } from "./database.ts";
import type { RemovalLookup, WorkerResult } from "./sync-worker.ts";

/** How the bench was asked to run; saved as the results' `settings`. */
export interface BenchSettings {
  pageSize: number;
  concurrency: number;
  latencyMs: number;
  /** V8 flags the measured worker runs with. */
  workerFlags: string[];
  /** Customers the removal run leaves out (0: no removal run). */
  removals: number;
  resources: ResourceName[];
}

/** The mass-removal guard's default fraction, less a margin: the removal run must pass it. */
export const REMOVAL_FRACTION = 0.1;

/** Issue 26's targets (and issue 12's after the last page); a size without an entry has none. */
export const TARGETS = {
  ratioToFloor: { max: 1.1, sizes: [100_000, 1_000_000], withResourcesSizes: [10_000] },
  afterLastPageMs: new Map([
    [100_000, 500],
    [1_000_000, 3_000],
  ]),
  /** Row versions an unchanged re-run writes, every table together, per customer. */
  rowVersionsPerCustomer: 1,
  peakRssMb: { max: 200, sizes: [1_000_000] },
  /** How many times slower the naive loop must be than a first run. */
  naiveSpeedup: 30,
} as const;

type FloorSettings = Pick<BenchSettings, "pageSize" | "concurrency" | "latencyMs">;

/** The API's own limit: every page once, `concurrency` at a time, each taking the latency. */
export function apiFloorMs(customers: number, settings: FloorSettings): number {
  return (Math.ceil(customers / settings.pageSize) * settings.latencyMs) / settings.concurrency;
}

/**
 * With services and jobs, the floor is every request the run made (a page of customers or
 * services, one customer's jobs), `concurrency` at a time, each taking the latency.
 */
export function floorOf(
  result: WorkerResult,
  customers: number,
  settings: FloorSettings & Pick<BenchSettings, "resources">,
): number {
  if (settings.resources.length === 1 || result.resources === null) {
    return apiFloorMs(customers, settings);
  }
  const requests = result.resources.reduce((sum, r) => sum + r.requests, 0);
  return (requests * settings.latencyMs) / settings.concurrency;
}

export interface RunMeasure {
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
  /** Where the run's CPU time went (null where it was not measured). */
  cpu: CpuSplit | null;
}

export function measure(
  result: WorkerResult,
  floorMs: number,
  cpu: CpuSplit | null = null,
): RunMeasure {
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
    cpu,
  };
}

export function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Whether a run met the targets; null where a size has none. */
export interface TargetsMet {
  ratioToFloor: boolean | null;
  afterLastPage: boolean | null;
  peakRss: boolean | null;
}

export function targetsMet(
  customers: number,
  m: RunMeasure,
  resources: readonly ResourceName[],
): TargetsMet {
  const { ratioToFloor, peakRssMb } = TARGETS;
  const ratioSizes: readonly number[] =
    resources.length > 1 ? ratioToFloor.withResourcesSizes : ratioToFloor.sizes;
  // The run of all three resources has its own size; the sizes of the others are customers alone.
  const afterLimit = resources.length > 1 ? undefined : TARGETS.afterLastPageMs.get(customers);
  return {
    ratioToFloor:
      ratioSizes.includes(customers) && m.ratioToFloor !== null
        ? m.ratioToFloor <= ratioToFloor.max
        : null,
    afterLastPage:
      afterLimit !== undefined && m.afterLastPageMs !== null
        ? m.afterLastPageMs <= afterLimit
        : null,
    peakRss: (peakRssMb.sizes as readonly number[]).includes(customers)
      ? m.peakRssMb < peakRssMb.max
      : null,
  };
}

/** Row versions `rows` holds (inserted, updated, deleted; every table), per customer. */
export function rowVersionsPerCustomer(rows: TableStats, customers: number): number {
  const versions = Object.values(rows).reduce((sum, w) => sum + w.ins + w.upd + w.del, 0);
  return customers > 0 ? round(versions / customers, 2) : 0;
}

export type MeasuredRun = RunMeasure & { targetsMet: TargetsMet; rowVersions: TableStats };

export interface RemovalResult {
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

export interface SizeResult {
  customers: number;
  latencyMs: number;
  first: MeasuredRun;
  unchanged: MeasuredRun & {
    /** All of HISTORY_TABLES together; per table in historyRows. */
    historyRowsWritten: number;
    historyRows: Record<string, number>;
    /** rowVersionsPerCustomer of its rowVersions, and whether it met the target. */
    rowVersionsPerCustomer: number;
    rowVersionsMet: boolean;
  };
  removals?: RemovalResult;
}

export interface BaselineResult {
  customers: number;
  naive: RunMeasure;
  sync: RunMeasure;
  speedup: number;
  speedupMet: boolean;
}
