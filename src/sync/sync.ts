// One sync run, in the steps of README's "How a run works": 1. lock, 2. record the run,
// 3. fetch every page into staging, merging each batch in the run's transaction as it is
// staged, 4. judge completeness, 5. decide what may be marked removed, 6. remove it, record
// success and commit. A failure rolls the merge back and is recorded instead.
import type { Database } from "../db.ts";
import type { ElementsClient } from "../elements/client.ts";
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_REMOVAL_FRACTION } from "./defaults.ts";
import { errorMessage, SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { judgeCompleteness, type Completeness } from "./completeness.ts";
import { fetchIntoStaging, type PageProgress } from "./fetch.ts";
import { RunInProgressError, tryAcquireSyncLock } from "./lock.ts";
import { FILTER_IGNORED, IdFilterSupport, lookUpCustomers, type LookupContext } from "./lookup.ts";
import { decideRemovals } from "./removals.ts";
import { startRunCeiling, type RunCeiling } from "./run-ceiling.ts";
import type { MergeCounts } from "./merge.ts";
import { RunMerge } from "./run-merge.ts";
import * as runs from "./runs.ts";
import type { FetchProgress, RunOutcome, StartedRun } from "./runs.ts";
import { NewFieldReporter } from "./source-records.ts";
import { openStagingWriter, type StagedCounts, type StagingWriter } from "./staging.ts";

export interface SyncDependencies {
  db: Database;
  client: ElementsClient;
  log: Logger;
  /** Told after every staged page (progress display, metrics); must not throw. */
  onProgress?: (progress: PageProgress) => void;
  /** Failed runs this process could not record yet; a process that runs again passes one. */
  unrecordedFailures?: runs.UnrecordedFailures | undefined;
}

export interface SyncOptions {
  pageSize: number;
  /** Sync exactly these customers (at least one), asked for by id; nothing is marked removed. */
  customerIds?: readonly string[] | undefined;
  /** Aborting stops the run: it ends failed with error "interrupted" and merges nothing. */
  signal?: AbortSignal | undefined;
  /**
   * The run's ceiling (SYNC_MAX_DURATION_MS): still fetching or looking customers up after
   * this long, it stops and fails, freeing the lock for the next run. Undefined: none.
   */
  maxDurationMs?: number | undefined;
  /** The scheduled fire this run serves, recorded in sync_runs.scheduled_for. */
  scheduledFor?: Date | undefined;
  /** Pages fetched at the same time after page 1 (default 4, ELEMENTS_CONCURRENCY). */
  concurrency?: number | undefined;
  /** The mass-removal guard's fraction (default 0.2): a run that would remove more removes none. */
  maxRemovalFraction?: number | undefined;
  /** Lifts the mass-removal guard for this run (`--allow-mass-removal`). */
  allowMassRemoval?: boolean | undefined;
  /** Customers staged before a batch is merged (default 250); tests merge every page with 1. */
  minMergeBatch?: number | undefined;
}

export type RunSummary =
  | ({ runId: number; status: "succeeded"; durationMs: number } & RunOutcome)
  | ({ runId: number; status: "failed"; durationMs: number; error: string } & FetchProgress);

export async function runSync(deps: SyncDependencies, options: SyncOptions): Promise<RunSummary> {
  // Stopped before it began (a signal during migrations): no run, no sync_runs row.
  options.signal?.throwIfAborted();
  if (options.customerIds?.length === 0) throw new SyncError("No customer id to sync.");
  // 1. The lock: runs against one database never overlap.
  const lock = await tryAcquireSyncLock(deps.db.pool, {
    sessionTimeoutMs: deps.db.queryTimeoutMs,
    log: deps.log,
  });
  if (!lock) throw new RunInProgressError(await describeLockHolder(deps));
  try {
    await deps.unrecordedFailures?.record(deps.db.prisma);
    const abandoned = await runs.abandonStaleRuns(deps.db.prisma);
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

/** One run's parts, handed from step to step. */
interface Run {
  deps: SyncDependencies;
  options: SyncOptions;
  row: StartedRun;
  /**
   * What sending requests and staging their answers takes, for pages and lookups alike,
   * with what the run has learned about the API's id filter.
   */
  requests: LookupContext;
  /** What fetching learned; recorded whether the run succeeds or fails. */
  progress: FetchProgress;
  elapsed: () => number;
  /** Aborted when the run passes SYNC_MAX_DURATION_MS; undefined without a ceiling. */
  ceiling: RunCeiling | undefined;
  /** Sees every record staged, from pages and lookups alike. */
  newFields: NewFieldReporter;
  /** Customers staged so far, counted by the staging writers. */
  staged: StagedCounts;
  /** The run's transaction, merging what is staged; opened once the run is recorded. */
  merge: RunMerge | undefined;
  /** When the run started and when the last page of paging arrived (performance.now()). */
  startedAt: number;
  lastPageAt: number | null;
}

async function runLocked(deps: SyncDependencies, options: SyncOptions): Promise<RunSummary> {
  // 2. The run's row, `running`.
  const customerIds =
    options.customerIds === undefined ? undefined : [...new Set(options.customerIds)];
  const customerFilter = customerIds?.join(",") ?? null;
  const scheduledFor = options.scheduledFor ?? null;
  const row = await runs.startRun(deps.db.prisma, customerFilter, scheduledFor);
  const started = performance.now();
  const log = deps.log.child({ runId: row.id });
  log.info({ customerFilter, scheduledFor }, "sync run started");
  const ceiling =
    options.maxDurationMs === undefined ? undefined : startRunCeiling(options.maxDurationMs);
  // A stop from outside or the ceiling: either ends every request of the run at once.
  const signals = [options.signal, ceiling?.signal].filter((one) => one !== undefined);
  const newFields = new NewFieldReporter();
  const staged: StagedCounts = { customers: 0 };
  let merge: RunMerge | undefined;
  const requests: LookupContext = {
    idFilter: new IdFilterSupport(log),
    client: deps.client,
    log,
    runId: row.id,
    pageSize: options.pageSize,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
    openWriter: async () => {
      if (!merge) throw new Error("staging opened before the run's merge");
      const target = { runId: row.id, merge, counts: staged };
      return checkedBy(newFields, await openStagingWriter(deps.db.pool, target));
    },
  };
  const progress: FetchProgress = {
    apiTotalCount: null,
    pagesFetched: 0,
    customersSeen: 0,
    tenantsSeen: 0,
    rejectedRecords: 0,
    newFields: [],
  };
  const elapsed = () => performance.now() - started;
  const run: Run = {
    deps,
    options: { ...options, customerIds },
    row,
    requests,
    progress,
    elapsed,
    ceiling,
    newFields,
    staged,
    merge: undefined,
    startedAt: started,
    lastPageAt: null,
  };
  try {
    const input = { runId: row.id, observedAt: row.startedAt };
    merge = run.merge = await RunMerge.open(deps.db.pool, input, {
      idleTimeoutMs: deps.db.queryTimeoutMs,
      minBatch: options.minMergeBatch,
    });
    return await fetchJudgeAndMerge(run);
  } catch (error) {
    // Nothing the run merged survives it.
    await run.merge?.abandon();
    return await recordFailedRun(run, error);
  } finally {
    ceiling?.clear();
  }
}

/** Steps 3 to 6. */
async function fetchJudgeAndMerge(run: Run): Promise<RunSummary> {
  const { options, requests, progress } = run;
  const merge = run.merge;
  if (!merge) throw new Error("the run's merge is not open");
  // 3. Every page, streamed into staging (or the customers named), and 4. whether it saw
  // every customer.
  const { completeness, pageSize } =
    options.customerIds === undefined
      ? await fetchEveryPage(run)
      : await fetchNamedCustomers(run, options.customerIds);
  const fetchMs = (run.lastPageAt ?? performance.now()) - run.startedAt;
  await merge.drained();
  // 5. What the merge may mark removed: nothing after an incomplete run.
  const { removeAbsent, ...verdict } = await decideRemovals(
    {
      ...requests,
      // Lookups ask for as many ids per request as the server serves records per page.
      pageSize,
      customers: merge,
      maxRemovalFraction: options.maxRemovalFraction ?? DEFAULT_MAX_REMOVAL_FRACTION,
      allowMassRemoval: options.allowMassRemoval ?? false,
    },
    completeness,
  );
  // Lookups may have staged customers the pages skipped.
  countStagedInto(run);
  progress.newFields = run.newFields.announce(requests.log);
  // Once every page is in, a signal (or the ceiling) stops only requests still to be made
  // (removal lookups): what is left is merging what arrived, and finishing that is as
  // clean as rolling it back.
  // 6. Removals, the run's success, and the commit.
  const outcome = await finishRun(run, removeAbsent, { ...progress, ...verdict });
  const durationMs = run.elapsed();
  // What the run adds to the API's time: merging the last pages, removals and the commit.
  const timing = {
    durationMs,
    fetchMs: Math.round(fetchMs),
    afterLastPageMs: Math.round(durationMs - fetchMs),
  };
  requests.log.info({ status: "succeeded", ...outcome, ...timing }, "sync run succeeded");
  return { runId: run.row.id, status: "succeeded", durationMs, ...outcome };
}

/** Step 3 and 4 of a full run: every page into staging, then whether it saw everyone. */
async function fetchEveryPage(run: Run): Promise<{ completeness: Completeness; pageSize: number }> {
  const { progress } = run;
  const fetched = await fetchIntoStaging({
    ...run.requests,
    progress,
    onProgress: run.deps.onProgress,
  });
  run.lastPageAt = fetched.lastPageAt;
  countStagedInto(run);
  const completeness = judgeCompleteness({
    customerFilter: null,
    totalCounts: fetched.totalCounts,
    distinctCustomers: progress.customersSeen,
    rejectedRecords: progress.rejectedRecords,
    pagingStopped: fetched.pagingStopped,
  });
  return { completeness, pageSize: fetched.pageSize };
}

/**
 * Step 3 and 4 of a `--customer` run: exactly the customers named, asked for by id as
 * removal lookups are (lookup.ts), so whichever filter form the API honours is used and
 * no other customer's record is staged. A run that saw them all is still incomplete; one
 * that did not fails, naming who is missing, rather than merge part of what was asked.
 */
async function fetchNamedCustomers(
  run: Run,
  ids: readonly string[],
): Promise<{ completeness: Completeness; pageSize: number }> {
  const { log, pageSize } = run.requests;
  const found = await lookUpCustomers(run.requests, ids);
  run.progress.pagesFetched += found.requests;
  run.progress.apiTotalCount = found.lastTotalCount;
  run.progress.rejectedRecords += found.rejected.length;
  for (const record of found.rejected) log.warn(record, "rejected a customer record");
  run.lastPageAt = performance.now();
  countStagedInto(run);
  if (found.unsettled.length > 0) {
    throw new SyncError(
      `${sentence(FILTER_IGNORED)}: it cannot be asked for customer ${found.unsettled.join(", ")}, so nothing was synced.`,
    );
  }
  if (found.gone.length > 0) {
    throw new SyncError(`The Elements API returned no customer with id ${found.gone.join(", ")}.`);
  }
  if (found.rejected.length > 0) {
    const reasons = found.rejected.map((record) => `${record.id ?? "?"}: ${record.reason}`);
    throw new SyncError(
      `The Elements API's record of customer ${reasons.join("; ")} was rejected, so nothing was synced.`,
    );
  }
  const completeness = judgeCompleteness({
    customerFilter: ids,
    totalCounts: new Set(),
    distinctCustomers: run.progress.customersSeen,
    rejectedRecords: 0,
    pagingStopped: null,
  });
  return { completeness, pageSize };
}

/**
 * The failed run's row; a run stopped by its signal fails with error `interrupted`, one
 * stopped by its ceiling says so.
 */
async function recordFailedRun(run: Run, error: unknown): Promise<RunSummary> {
  const { log } = run.requests;
  const interrupted = run.options.signal?.aborted === true;
  countStagedInto(run);
  const message = interrupted ? runs.INTERRUPTED : await failureMessage(run, error);
  // What the run met before it failed is recorded too (announced now if not yet).
  run.progress.newFields = run.newFields.announce(log);
  if (interrupted) log.warn("sync run interrupted: nothing merged");
  else log.error({ err: message }, "sync run failed");
  const recorded = await runs
    .recordFailure(run.deps.db.prisma, run.row.id, run.progress, message)
    .catch((recordError: unknown) => {
      // Typically the database itself is gone: this process's next run records it, or
      // (if there is none) the next run of any process marks it abandoned.
      log.error({ err: errorMessage(recordError) }, "could not record the failed run");
      run.deps.unrecordedFailures?.add(run.row.id, run.progress, message);
      return run.progress;
    });
  const durationMs = run.elapsed();
  return { runId: run.row.id, status: "failed", durationMs, error: message, ...recorded };
}

/**
 * What the run's row says when it failed on its own (not interrupted). A run another
 * process marked abandoned lost its lock, and its sessions with it: that is the cause,
 * whatever statement found out.
 */
async function failureMessage(run: Run, error: unknown): Promise<string> {
  if (run.ceiling?.signal.aborted === true) return run.ceiling.reason;
  const now = await runs.readRunStatus(run.deps.db.prisma, run.row.id).catch(() => undefined);
  return now === "abandoned" ? runs.lostLockMessage(run.row.id) : errorMessage(error);
}

/** Why the lock was refused, naming the run that holds it when there is one. */
async function describeLockHolder(deps: SyncDependencies): Promise<string> {
  const holder = await runs.findRunningRun(deps.db.prisma).catch(() => undefined);
  const which = holder
    ? ` (run ${holder.id}, started at ${holder.startedAt.toISOString()}${holder.scheduledFor ? " by the schedule" : ""})`
    : "";
  return `Another elements-sync run is in progress on this database${which}; try again when it has finished.`;
}

/**
 * Removals, the run's success and the commit: the end of the run's one transaction, so its
 * row says succeeded exactly when everything it merged is visible.
 */
async function finishRun(
  run: Run,
  removeAbsent: boolean,
  fetched: Omit<RunOutcome, keyof MergeCounts>,
): Promise<RunOutcome> {
  const { id: runId } = run.row;
  const merge = run.merge;
  if (!merge) throw new Error("the run's merge is not open");
  let outcome: RunOutcome | undefined;
  await merge.finish(removeAbsent, async (session, counts) => {
    await runs.claimRunForMerge(session, runId);
    outcome = { ...fetched, ...counts };
    await runs.recordSuccess(session, runId, outcome);
    // Staging holds only this run's rows (one run at a time): emptied whole, in no time.
    await session.query("TRUNCATE staging_tenants, staging_customers");
  });
  if (!outcome) throw new Error("the run's success was not recorded");
  return outcome;
}

/** The writer, with every record it is handed checked for new fields first. */
function checkedBy(newFields: NewFieldReporter, writer: StagingWriter): StagingWriter {
  return {
    ...writer,
    write(records) {
      newFields.check(records);
      return writer.write(records);
    },
  };
}

function sentence(clause: string): string {
  return clause.charAt(0).toUpperCase() + clause.slice(1);
}

function countStagedInto(run: Run): void {
  run.progress.customersSeen = run.staged.customers;
  run.progress.tenantsSeen = run.merge?.tenantsSeen() ?? 0;
}
