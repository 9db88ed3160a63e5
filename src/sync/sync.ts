// One sync run, in the steps of "How a run works" (docs/development.md): 1. lock, 2. record
// the run and open its merge session, 3. fetch every page through the pipeline (pipeline.ts), which
// merges batches in the run's transaction as they arrive, 4. judge completeness, 5. decide
// what may be marked removed, 6. services and backup jobs (resources.ts), 7. remove what
// may be, record success and commit. A failure rolls the merge back and is recorded instead.
import type { Database } from "../db.ts";
import type { ElementsClient } from "../elements/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { recordResources, type ResourceRecord } from "../sql/resources.ts";
import { truncateStaging } from "../sql/staging.ts";
import { fetchEveryPage, type Fetched, type PageProgress } from "./fetch.ts";
import { RunInProgressError, tryAcquireSyncLock } from "./lock.ts";
import { fetchNamedCustomers } from "./lookup.ts";
import { MergeSession } from "./merge-session.ts";
import { decideRemovals, type RemovalDecision } from "./removals.ts";
import {
  compileRunOptions,
  openRunContext,
  type RunContext,
  type RunOptions,
  type SyncOptions,
} from "./run-context.ts";
import { ResourceLedger } from "./resource-pass.ts";
import { syncResources } from "./resources.ts";
import * as runs from "./runs.ts";
import type { ChangeCounts } from "../sql/changes.ts";
import type { FetchProgress, RunOutcome, StartedRun } from "./runs.ts";

export type { SyncOptions } from "./run-context.ts";

export interface SyncDependencies {
  db: Database;
  client: ElementsClient;
  log: Logger;
  /** Told after every staged page (progress display, metrics); must not throw. */
  onProgress?: (progress: PageProgress) => void;
  /** Failed runs this process could not record yet; a process that runs again passes one. */
  unrecordedFailures?: runs.UnrecordedFailures | undefined;
}

export type RunSummary =
  | ({
      runId: number;
      status: "succeeded";
      durationMs: number;
      /** Attribute changes by kind; null when they could not be read after the commit. */
      changes: ChangeCounts | null;
    } & RunOutcome)
  | ({ runId: number; status: "failed"; durationMs: number; error: string } & FetchProgress);

export async function runSync(deps: SyncDependencies, options: SyncOptions): Promise<RunSummary> {
  // Stopped before it began (a signal during migrations): no run, no sync_runs row.
  options.signal?.throwIfAborted();
  const compiled = compileRunOptions(options);
  // 1. The lock: runs against one database never overlap.
  const lock = await tryAcquireSyncLock(deps.db.pool, {
    sessionTimeoutMs: deps.db.queryTimeoutMs,
    log: deps.log,
  });
  if (!lock) throw new RunInProgressError(await describeLockHolder(deps));
  try {
    await deps.unrecordedFailures?.record(deps.db.pool);
    const abandoned = await runs.abandonStaleRuns(deps.db.pool);
    if (abandoned.length > 0)
      deps.log.warn(
        { runIds: abandoned },
        "marked runs left running by a stopped process as abandoned",
      );
    return await runLocked(deps, compiled);
  } finally {
    await lock.release();
  }
}

/** A run from its row to its end, whichever way it ends. */
interface Started {
  deps: SyncDependencies;
  options: RunOptions;
  row: StartedRun;
  log: Logger;
  /** performance.now() when the run's row was written. */
  startedAt: number;
  /** Each resource's record as its pass ends (what a failed run records too). */
  ledger: ResourceLedger;
}

async function runLocked(deps: SyncDependencies, options: RunOptions): Promise<RunSummary> {
  // 2. The run's row, `running`, and its merge session.
  const { customerFilter, scheduledFor, onStart } = options;
  const row = await runs.startRun(deps.db.pool, { customerFilter, scheduledFor, onStart });
  const started: Started = {
    deps,
    options,
    row,
    log: deps.log.child({ runId: row.id }),
    startedAt: performance.now(),
    ledger: new ResourceLedger(deps.client),
  };
  started.log.info({ customerFilter, scheduledFor }, "sync run started");
  let run: RunContext | undefined;
  try {
    const input = { runId: row.id, observedAt: row.startedAt };
    const session = await MergeSession.open(deps.db.pool, input, deps.db.queryTimeoutMs);
    const parts = { ...deps, log: started.log, runId: row.id, session };
    run = await openRunContext(parts, options).catch(async (error: unknown) => {
      await session.abandon();
      throw error;
    });
    return await fetchJudgeAndMerge(run, started);
  } catch (error) {
    // Nothing the run merged survives it, and nothing is staged once it is recorded.
    await run?.close();
    return await recordFailedRun(started, run, error);
  } finally {
    await run?.close();
  }
}

/** Steps 3 to 6. */
async function fetchJudgeAndMerge(run: RunContext, started: Started): Promise<RunSummary> {
  const { startedAt } = started;
  // 3. Every page (or the customers named) through the pipeline, merged, and 4. whether the
  // run saw every customer.
  const { customerIds } = run.options;
  const fetched: Fetched =
    customerIds === undefined
      ? await fetchEveryPage(run)
      : await fetchNamedCustomers(run, customerIds);
  // 5. What the merge may mark removed: nothing after an incomplete run.
  const decision = await decideRemovals(run, fetched);
  // 6. Services and backup jobs, each in its pass over the customers the run saw.
  const resources = await syncResources(run, started.ledger, decision);
  // The last answer of the API: the last customers page, or the passes' (each merged as
  // it arrives).
  const lastAnswerAt = run.options.resources.length > 1 ? performance.now() : fetched.lastPageAt;
  const fetchMs = lastAnswerAt - startedAt;
  // Once every request is answered, a signal (or the ceiling) stops nothing more: what is
  // left is merging what arrived, and finishing that is as clean as rolling it back.
  // 7. Removals, the run's success, and the commit.
  const outcome = await finishRun(run, decision, resources);
  const durationMs = performance.now() - startedAt;
  // What the run adds to the API's time: merging the last pages, removals and the commit.
  const timing = {
    durationMs,
    fetchMs: Math.round(fetchMs),
    afterLastPageMs: Math.round(durationMs - fetchMs),
  };
  const changes = await runs.readChangeCounts(started.deps.db.pool, run.runId, run.log);
  run.log.info({ status: "succeeded", ...outcome, changes, ...timing }, "sync run succeeded");
  return { runId: run.runId, status: "succeeded", durationMs, changes, ...outcome };
}

/**
 * Removals, the run's success and the commit: the end of the run's one transaction, so its
 * row says succeeded exactly when everything it merged is visible.
 */
async function finishRun(
  run: RunContext,
  decision: RemovalDecision,
  resources: readonly ResourceRecord[],
): Promise<RunOutcome> {
  const { removeAbsent, unseen, ...verdict } = decision;
  const { merged, presentSeen: _, ...seen } = run.pipeline.tally();
  const newFields = run.pipeline.newFields();
  return run.session.finish({ removeAbsent, unseen }, async (session, customersRemoved) => {
    await runs.claimRunForMerge(session, run.runId);
    const outcome = { ...seen, newFields, ...verdict, ...merged, customersRemoved, resources };
    await runs.recordSuccess(session, run.runId, outcome);
    await recordResources(session, run.runId, resources);
    await truncateStaging(session);
    return outcome;
  });
}

/**
 * The failed run's row, with what it had fetched; a run stopped by its signal fails with
 * error `interrupted`, one stopped by its ceiling says so.
 */
async function recordFailedRun(
  started: Started,
  run: RunContext | undefined,
  error: unknown,
): Promise<RunSummary> {
  const { deps, log, row } = started;
  const interrupted = started.options.signal?.aborted === true;
  const message = interrupted ? runs.INTERRUPTED : await failureMessage(started, run, error);
  // What the run met before it failed is recorded too (announced now if not yet).
  const progress = fetchProgress(run);
  if (interrupted) log.warn("sync run interrupted: nothing merged");
  else log.error({ err: message }, "sync run failed");
  const recorded = await runs
    .recordFailure(deps.db.pool, row.id, progress, message)
    .catch((recordError: unknown) => {
      // Typically the database itself is gone: this process's next run records it, or
      // (if there is none) the next run of any process marks it abandoned.
      log.error({ err: errorMessage(recordError) }, "could not record the failed run");
      deps.unrecordedFailures?.add(row.id, progress, message);
      return progress;
    });
  const customers = { records: progress.customersSeen, rejected: progress.rejectedRecords };
  const resources = started.ledger.atFailure(message, customers);
  await recordResources(deps.db.pool, row.id, resources).catch((recordError: unknown) => {
    log.warn({ err: errorMessage(recordError) }, "the failed run's resources were not recorded");
  });
  const durationMs = performance.now() - started.startedAt;
  return { runId: row.id, status: "failed", durationMs, error: message, ...recorded };
}

/** What the run had fetched when it failed: nothing, if it failed before its pipeline opened. */
function fetchProgress(run: RunContext | undefined): FetchProgress {
  if (!run) {
    return {
      apiTotalCount: null,
      pagesFetched: 0,
      customersSeen: 0,
      tenantsSeen: 0,
      rejectedRecords: 0,
      newFields: [],
    };
  }
  const { merged: _merged, presentSeen: _presentSeen, ...seen } = run.pipeline.tally();
  return { ...seen, newFields: run.pipeline.newFields() };
}

/**
 * What the run's row says when it failed on its own (not interrupted). A run another
 * process marked abandoned lost its lock, and its sessions with it: that is the cause,
 * whatever statement found out.
 */
async function failureMessage(
  started: Started,
  run: RunContext | undefined,
  error: unknown,
): Promise<string> {
  if (run?.ceiling?.signal.aborted === true) return run.ceiling.reason;
  const { deps, row } = started;
  const now = await runs.readRunStatus(deps.db.pool, row.id).catch(() => undefined);
  return now === "abandoned" ? runs.lostLockMessage(row.id) : errorMessage(error);
}

/** Why the lock was refused, naming the run that holds it when there is one. */
async function describeLockHolder(deps: SyncDependencies): Promise<string> {
  const holder = await runs.findRunningRun(deps.db.pool).catch(() => undefined);
  const which = holder
    ? ` (run ${holder.id}, started at ${holder.startedAt.toISOString()}${holder.scheduledFor ? " by the schedule" : ""})`
    : "";
  return `Another elements-sync run is in progress on this database${which}; try again when it has finished.`;
}
