// One sync run, end to end: lock, record the run, stream every page into staging,
// judge completeness, check what may be marked removed, merge in one transaction, record
// the outcome.
import type { Database } from "../db.ts";
import type { ElementsClient } from "../elements/client.ts";
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_REMOVAL_FRACTION } from "../config.ts";
import type { CustomerRecord, PageEnvelope } from "../elements/payload.ts";
import { effectivePageSize, pageCount } from "../elements/paging.ts";
import { errorMessage, SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { judgeCompleteness } from "./completeness.ts";
import { RunInProgressError, tryAcquireSyncLock } from "./lock.ts";
import { mergeStaging, type MergeCounts } from "./merge.ts";
import { checkRecords, UnknownCodeReporter } from "./records.ts";
import { decideRemovals, type RemovalDecision } from "./removals.ts";
import {
  abandonStaleRuns,
  claimRunForMerge,
  findRunningRun,
  INTERRUPTED,
  recordFailure,
  recordSuccess,
  startRun,
  type FetchProgress,
  type StartedRun,
  type RunOutcome,
} from "./runs.ts";
import { clearStaging, countStaged, openStagingWriter, type StagingWriter } from "./staging.ts";

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
  /** Aborting stops the run: it ends failed with error "interrupted" and merges nothing. */
  signal?: AbortSignal | undefined;
  /** The scheduled fire this run serves, recorded in sync_runs.scheduled_for. */
  scheduledFor?: Date | undefined;
  /** Pages fetched at the same time after page 1 (default 4, ELEMENTS_CONCURRENCY). */
  concurrency?: number | undefined;
  /**
   * The mass-removal guard: a complete run that would mark more than this fraction of the
   * present customers removed removes none and records a warning (default 0.2).
   */
  maxRemovalFraction?: number | undefined;
  /** Lifts the mass-removal guard for this run (`--allow-mass-removal`). */
  allowMassRemoval?: boolean | undefined;
}

export type RunSummary =
  | ({ runId: number; status: "succeeded"; durationMs: number } & RunOutcome)
  | ({ runId: number; status: "failed"; durationMs: number; error: string } & FetchProgress);

/** Longest a merge transaction may take before it is rolled back. */
const MERGE_TIMEOUT_MS = 15 * 60_000;

export async function runSync(deps: SyncDependencies, options: SyncOptions): Promise<RunSummary> {
  // Stopped before it began (a signal during migrations): no run, no sync_runs row.
  options.signal?.throwIfAborted();
  const lock = await tryAcquireSyncLock(deps.db.pool, {
    sessionTimeoutMs: deps.db.queryTimeoutMs,
    log: deps.log,
  });
  if (!lock) throw new RunInProgressError(await describeLockHolder(deps));
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
  const scheduledFor = options.scheduledFor ?? null;
  const run = await startRun(deps.db.prisma, customerFilter, scheduledFor);
  const log = deps.log.child({ runId: run.id });
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  log.info({ customerFilter, scheduledFor }, "sync run started");

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
    const removal = completeness.complete
      ? await decideRemovalsOf(deps, log, run.id, options)
      : NO_REMOVALS;
    // Lookups may have staged customers the pages skipped.
    Object.assign(progress, await stagedProgress(deps, run.id));
    // Past this point a signal no longer stops the run: the merge is one transaction that
    // takes seconds, and finishing it is as clean as rolling it back.
    options.signal?.throwIfAborted();
    const outcome = await mergeRun(deps, run, removal.removeAbsent, {
      ...progress,
      complete: completeness.complete && removal.incompleteReason === null,
      incompleteReason: completeness.reason ?? removal.incompleteReason,
      removalsWithheld: removal.withheld,
      warning: removal.warning,
    });
    const summary: RunSummary = {
      runId: run.id,
      status: "succeeded",
      durationMs: elapsed(),
      ...outcome,
    };
    // The child logger names the run already.
    const { runId: _runId, ...logged } = summary;
    log.info({ ...logged, fetchMs, mergeMs: elapsed() - fetchMs }, "sync run succeeded");
    return summary;
  } catch (error) {
    const interrupted = options.signal?.aborted === true;
    const message = interrupted ? INTERRUPTED : errorMessage(error);
    if (interrupted) log.warn("sync run interrupted: nothing merged");
    else log.error({ err: message }, "sync run failed");
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

/** Why the lock was refused, naming the run that holds it when there is one. */
async function describeLockHolder(deps: SyncDependencies): Promise<string> {
  const holder = await findRunningRun(deps.db.prisma).catch(() => undefined);
  const which = holder
    ? ` (run ${holder.id}, started at ${holder.startedAt.toISOString()}${holder.scheduledFor ? " by the schedule" : ""})`
    : "";
  return `Another elements-sync run is in progress on this database${which}; try again when it has finished.`;
}

const NO_REMOVALS: RemovalDecision = {
  removeAbsent: false,
  withheld: 0,
  warning: null,
  incompleteReason: null,
};

/** For a complete run: which of the customers it did not see it may mark removed. */
async function decideRemovalsOf(
  deps: SyncDependencies,
  log: Logger,
  runId: number,
  options: SyncOptions,
): Promise<RemovalDecision> {
  return decideRemovals(
    {
      prisma: deps.db.prisma,
      client: deps.client,
      log,
      openWriter: () => openStagingWriter(deps.db.pool, runId),
    },
    {
      runId,
      pageSize: options.pageSize,
      concurrency: concurrencyOf(options),
      maxRemovalFraction: options.maxRemovalFraction ?? DEFAULT_MAX_REMOVAL_FRACTION,
      allowMassRemoval: options.allowMassRemoval ?? false,
      signal: options.signal,
    },
  );
}

/** The merge and the run's success are one transaction: both happen or neither does. */
async function mergeRun(
  deps: SyncDependencies,
  run: StartedRun,
  removeAbsent: boolean,
  fetched: Omit<RunOutcome, keyof MergeCounts>,
): Promise<RunOutcome> {
  return deps.db.prisma.$transaction(
    async (tx) => {
      await claimRunForMerge(tx, run.id);
      const counts = await mergeStaging(tx, {
        runId: run.id,
        observedAt: run.startedAt,
        removeAbsent,
        stagedTenants: fetched.tenantsSeen,
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
 * Fetches page 1 to learn totalCount, then the other pages the plan calls for with
 * `concurrency` requests at a time, re-planning when a page reports a different total.
 * Pages are staged as they arrive, while others are still being fetched. Returns every
 * totalCount seen.
 */
async function fetchIntoStaging(
  deps: SyncDependencies,
  log: Logger,
  runId: number,
  options: SyncOptions,
  progress: FetchProgress,
): Promise<Set<number>> {
  const writer = await openStagingWriter(deps.db.pool, runId);
  // The first failure stops every other request of the run.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const fetcher = new PageFetcher(deps, log, runId, options, progress, writer, signal);
  try {
    await fetcher.firstPage();
    const workers = Array.from({ length: concurrencyOf(options) }, () =>
      fetcher.worker().catch((error: unknown) => {
        stop.abort(error);
        throw error;
      }),
    );
    const results = await Promise.allSettled(workers);
    await fetcher.staged();
    // Report the failure that stopped the run, not the aborts it caused.
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw stop.signal.aborted ? stop.signal.reason : failed.reason;
    return fetcher.totalCounts;
  } finally {
    // Nothing may still be writing to staging when the run is recorded or cleared.
    await writer.idle();
    writer.close();
  }
}

function concurrencyOf(options: SyncOptions): number {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  return concurrency;
}

/**
 * The fetch plan of one run and the pages fetched so far. Each worker holds at most one
 * page in flight, one being checked and one being written, so memory is bounded by about
 * 3 × concurrency pages however many customers there are.
 */
class PageFetcher {
  readonly totalCounts = new Set<number>();
  readonly #unknownCodes: UnknownCodeReporter;
  #pageSize: number;
  #pages = 1;
  #nextPage = 2;
  readonly #pendingWrites = new Set<Promise<void>>();
  readonly #deps: SyncDependencies;
  readonly #log: Logger;
  readonly #runId: number;
  readonly #options: SyncOptions;
  readonly #progress: FetchProgress;
  readonly #writer: StagingWriter;
  readonly #signal: AbortSignal;

  constructor(
    deps: SyncDependencies,
    log: Logger,
    runId: number,
    options: SyncOptions,
    progress: FetchProgress,
    writer: StagingWriter,
    signal: AbortSignal,
  ) {
    this.#deps = deps;
    this.#log = log;
    this.#runId = runId;
    this.#options = options;
    this.#progress = progress;
    this.#writer = writer;
    this.#signal = signal;
    this.#unknownCodes = new UnknownCodeReporter(log);
    this.#pageSize = options.pageSize;
  }

  /** Page 1 alone: it tells the total, and the page size the server really uses. */
  async firstPage(): Promise<void> {
    const page = await this.#fetch(1);
    const served = effectivePageSize(this.#options.pageSize, page.metadata.pageSize);
    if (served !== this.#options.pageSize) {
      this.#pageSize = served;
      this.#log.warn(
        { requested: this.#options.pageSize, served },
        "the API serves smaller pages than requested; planning with its page size",
      );
    }
    this.#replan(page.metadata.totalCount);
    void this.#track(this.#stage(1, page));
  }

  /**
   * Takes the next planned page until there is none. The next request leaves as soon as a
   * page has arrived, before that page is checked and staged, so the worker's own work
   * never adds to the API's latency; a page still being written holds back the one after.
   */
  async worker(): Promise<void> {
    let previous: Promise<void> = Promise.resolve();
    let next = this.#fetchNext();
    while (next) {
      const { pageIndex, page: pending } = next;
      const page = await pending;
      this.#replan(page.metadata.totalCount);
      next = this.#fetchNext();
      await previous;
      previous = this.#track(this.#stage(pageIndex, page));
    }
    await previous;
  }

  #fetchNext(): { pageIndex: number; page: Promise<PageEnvelope> } | undefined {
    const pageIndex = this.#take();
    if (pageIndex === undefined) return undefined;
    const page = this.#fetch(pageIndex);
    // Awaited in its turn; until then a failure must not count as unhandled.
    page.catch(() => undefined);
    return { pageIndex, page };
  }

  /** Resolves when every page handed to staging is written; rejects if one was not. */
  async staged(): Promise<void> {
    await Promise.all(this.#pendingWrites);
  }

  #take(): number | undefined {
    if (this.#nextPage > this.#pages) return undefined;
    const pageIndex = this.#nextPage;
    this.#nextPage += 1;
    return pageIndex;
  }

  async #fetch(pageIndex: number): Promise<PageEnvelope> {
    const page = await this.#deps.client.fetchPage(
      { pageIndex, pageSize: this.#pageSize, customerId: this.#options.customerId },
      this.#signal,
    );
    this.totalCounts.add(page.metadata.totalCount);
    this.#progress.apiTotalCount = page.metadata.totalCount;
    this.#progress.pagesFetched += 1;
    return page;
  }

  /**
   * The plan covers the largest totalCount any page reported: pages beyond a smaller one
   * cost an empty answer, while stopping short could miss customers. A single-customer
   * request is one page.
   */
  #replan(totalCount: number): void {
    if (this.#options.customerId !== undefined) return;
    this.#pages = Math.max(this.#pages, pageCount(totalCount, this.#pageSize));
  }

  async #stage(pageIndex: number, page: PageEnvelope): Promise<void> {
    const { accepted: checked, rejected } = checkRecords(pageIndex, page.data);
    const accepted = onlyRequestedCustomer(checked, this.#options.customerId, this.#log);
    for (const record of rejected) this.#log.warn(record, "rejected a customer record");
    this.#progress.rejectedRecords += rejected.length;
    this.#unknownCodes.check(accepted);
    await this.#writer.write(accepted);
    this.#log.debug({ pageIndex, pages: this.#pages, records: page.data.length }, "page staged");
    this.#deps.onProgress?.({
      runId: this.#runId,
      pagesFetched: this.#progress.pagesFetched,
      pagesPlanned: this.#pages,
      apiTotalCount: this.#progress.apiTotalCount,
      rejectedRecords: this.#progress.rejectedRecords,
    });
  }

  /** Keeps the write until it settles; a failed write is reported by staged(), never unhandled. */
  #track(write: Promise<void>): Promise<void> {
    this.#pendingWrites.add(write);
    write.then(
      () => this.#pendingWrites.delete(write),
      () => undefined,
    );
    return write;
  }
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
