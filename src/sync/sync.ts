// One sync run, end to end: lock, record the run, stream every page into staging,
// judge completeness, merge in one transaction, record the outcome.
import type { Database } from "../db.ts";
import type { ElementsClient } from "../elements/client.ts";
import type { CustomerRecord } from "../elements/payload.ts";
import { effectivePageSize, pageCount } from "../elements/paging.ts";
import { errorMessage, SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { judgeCompleteness } from "./completeness.ts";
import { tryAcquireSyncLock } from "./lock.ts";
import { mergeStaging, type MergeCounts } from "./merge.ts";
import { checkRecords, UnknownCodeReporter } from "./records.ts";
import {
  abandonStaleRuns,
  claimRunForMerge,
  recordFailure,
  recordSuccess,
  startRun,
  type FetchProgress,
  type StartedRun,
  type RunOutcome,
} from "./runs.ts";
import { clearStaging, countStaged, stageCustomers } from "./staging.ts";

export interface SyncDependencies {
  db: Database;
  client: ElementsClient;
  log: Logger;
  /** Told after every staged page (progress display, metrics); must not throw. */
  onProgress?: (progress: FetchProgressUpdate) => void;
}

/** Where fetching stands; pagesPlanned follows the latest totalCount. */
export interface FetchProgressUpdate {
  runId: number;
  pagesFetched: number;
  pagesPlanned: number;
  apiTotalCount: number | null;
  rejectedRecords: number;
}

export interface SyncOptions {
  pageSize: number;
  /** Sync this one customer only; nothing is marked removed. */
  customerId?: string | undefined;
  signal?: AbortSignal | undefined;
}

export type RunSummary =
  | ({ runId: number; status: "succeeded"; durationMs: number } & RunOutcome)
  | ({ runId: number; status: "failed"; durationMs: number; error: string } & FetchProgress);

/** Longest a merge transaction may take before it is rolled back. */
const MERGE_TIMEOUT_MS = 15 * 60_000;

export async function runSync(deps: SyncDependencies, options: SyncOptions): Promise<RunSummary> {
  const lock = await tryAcquireSyncLock(deps.db.pool);
  if (!lock) {
    throw new SyncError(
      "Another elements-sync run is in progress on this database; try again when it has finished.",
    );
  }
  try {
    const abandoned = await abandonStaleRuns(deps.db.prisma);
    if (abandoned.length > 0)
      deps.log.warn(
        { runIds: abandoned },
        "marked runs left running by a stopped process as abandoned",
      );
    return await runLocked(deps, options);
  } finally {
    await lock.release();
  }
}

async function runLocked(deps: SyncDependencies, options: SyncOptions): Promise<RunSummary> {
  const customerFilter = options.customerId ?? null;
  const run = await startRun(deps.db.prisma, customerFilter);
  const log = deps.log.child({ runId: run.id });
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  log.info({ customerFilter }, "sync run started");

  const progress: FetchProgress = {
    apiTotalCount: null,
    pagesFetched: 0,
    customersSeen: 0,
    tenantsSeen: 0,
    rejectedRecords: 0,
  };
  try {
    const totalCounts = await fetchIntoStaging(deps, log, run.id, options, progress);
    Object.assign(progress, await stagedProgress(deps, run.id));
    const fetchMs = elapsed();
    if (customerFilter !== null && progress.customersSeen === 0) {
      throw new SyncError(`The Elements API returned no customer with id ${customerFilter}.`);
    }
    const completeness = judgeCompleteness({
      customerFilter,
      totalCounts,
      distinctCustomers: progress.customersSeen,
      rejectedRecords: progress.rejectedRecords,
    });
    if (!completeness.complete) {
      log.warn({ reason: completeness.reason }, "incomplete run: nothing will be marked removed");
    }
    const outcome = await mergeRun(deps, run, {
      ...progress,
      complete: completeness.complete,
      incompleteReason: completeness.reason,
    });
    const summary: RunSummary = {
      runId: run.id,
      status: "succeeded",
      durationMs: elapsed(),
      ...outcome,
    };
    log.info({ ...summary, fetchMs, mergeMs: elapsed() - fetchMs }, "sync run succeeded");
    return summary;
  } catch (error) {
    const message = errorMessage(error);
    log.error({ err: message }, "sync run failed");
    const recorded = await recordFailure(deps.db.prisma, run.id, progress, message).catch(
      (recordError: unknown) => {
        // Typically the database itself is gone; the next run will mark this one abandoned.
        log.error({ err: errorMessage(recordError) }, "could not record the failed run");
        return progress;
      },
    );
    return { runId: run.id, status: "failed", durationMs: elapsed(), error: message, ...recorded };
  }
}

/** The merge and the run's success are one transaction: both happen or neither does. */
async function mergeRun(
  deps: SyncDependencies,
  run: StartedRun,
  fetched: Omit<RunOutcome, keyof MergeCounts>,
): Promise<RunOutcome> {
  return deps.db.prisma.$transaction(
    async (tx) => {
      await claimRunForMerge(tx, run.id);
      const counts = await mergeStaging(tx, {
        runId: run.id,
        observedAt: run.startedAt,
        removeAbsent: fetched.complete,
      });
      const outcome: RunOutcome = { ...fetched, ...counts };
      await recordSuccess(tx, run.id, outcome);
      await clearStaging(tx, [run.id]);
      return outcome;
    },
    { timeout: MERGE_TIMEOUT_MS, maxWait: 30_000 },
  );
}

async function stagedProgress(deps: SyncDependencies, runId: number) {
  const staged = await countStaged(deps.db.prisma, runId);
  return { customersSeen: staged.customers, tenantsSeen: staged.tenants };
}

/**
 * Fetches page 1 to learn totalCount, then every further page the plan calls for,
 * re-planning if a page reports a different total. Returns every totalCount seen.
 */
async function fetchIntoStaging(
  deps: SyncDependencies,
  log: Logger,
  runId: number,
  options: SyncOptions,
  progress: FetchProgress,
): Promise<Set<number>> {
  const totalCounts = new Set<number>();
  const unknownCodes = new UnknownCodeReporter(log);
  let pages = 1;
  let pageSize = options.pageSize;
  for (let pageIndex = 1; pageIndex <= pages; pageIndex++) {
    const page = await deps.client.fetchPage(
      { pageIndex, pageSize, customerId: options.customerId },
      options.signal,
    );
    const { totalCount } = page.metadata;
    totalCounts.add(totalCount);
    progress.apiTotalCount = totalCount;
    progress.pagesFetched += 1;
    if (pageIndex === 1) {
      pageSize = effectivePageSize(options.pageSize, page.metadata.pageSize);
      if (pageSize !== options.pageSize) {
        log.warn(
          { requested: options.pageSize, served: pageSize },
          "the API serves smaller pages than requested; planning with its page size",
        );
      }
    }
    // A single-customer request answers in one page whatever totalCount says.
    pages = options.customerId === undefined ? pageCount(totalCount, pageSize) : 1;

    const { accepted: checked, rejected } = checkRecords(pageIndex, page.data);
    const accepted = onlyRequestedCustomer(checked, options.customerId, log);
    for (const record of rejected) log.warn(record, "rejected a customer record");
    progress.rejectedRecords += rejected.length;
    unknownCodes.check(accepted);
    await stageCustomers(deps.db.prisma, runId, accepted);
    log.debug({ pageIndex, pages, records: page.data.length }, "page staged");
    deps.onProgress?.({
      runId,
      pagesFetched: progress.pagesFetched,
      pagesPlanned: pages,
      apiTotalCount: progress.apiTotalCount,
      rejectedRecords: progress.rejectedRecords,
    });
  }
  return totalCounts;
}

/** A single-customer run merges that customer only, whatever else the API sends. */
function onlyRequestedCustomer(
  records: CustomerRecord[],
  customerId: string | undefined,
  log: Logger,
): CustomerRecord[] {
  if (customerId === undefined) return records;
  const wanted = records.filter((record) => record.id === customerId);
  if (wanted.length < records.length) {
    log.warn(
      { customerId, ignored: records.length - wanted.length },
      "the API returned other customers than the one asked for; ignored them",
    );
  }
  return wanted;
}
