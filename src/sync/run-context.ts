// A run as data: its options compiled once, defaults applied here and nowhere else, and the
// read-only context every step of the run is handed (graphile-worker's processSharedOptions
// -> CompiledSharedOptions is the model). The context holds the run's merge session, opened
// before it, and the pipeline everything fetched goes through; each step returns what it
// found, and the counts live with the pipeline that makes them.
import type { Database } from "../db.ts";
import { queuedBytesBudget } from "../elements/body.ts";
import type { ElementsClient } from "../elements/client.ts";
import type { ResourceName } from "../elements/resources.ts";
import { SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { checkedInteger } from "../values.ts";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_REMOVAL_FRACTION,
  DEFAULT_MIN_MERGE_BATCH,
} from "./defaults.ts";
import { IdFilterSupport } from "./id-filter-support.ts";
import type { MergeSession } from "./merge-session.ts";
import { Pipeline } from "./pipeline.ts";
import { startRunCeiling, type RunCeiling } from "./run-ceiling.ts";
import type { FetchProgress } from "./runs.ts";

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
  /** The run `start` makes at once (SYNC_ON_START), recorded in sync_runs.on_start. */
  onStart?: boolean | undefined;
  /** Pages fetched at the same time after page 1 (default 4, ELEMENTS_CONCURRENCY). */
  concurrency?: number | undefined;
  /** The mass-removal guard's fraction (default 0.2): a run that would remove more removes none. */
  maxRemovalFraction?: number | undefined;
  /** Lifts the mass-removal guard for this run (`--allow-mass-removal`). */
  allowMassRemoval?: boolean | undefined;
  /** Customers staged before a batch is merged (default 250); tests merge every page with 1. */
  minMergeBatch?: number | undefined;
  /**
   * What the run syncs, in run order, customers always first (ELEMENTS_RESOURCES; default
   * all three).
   */
  resources?: readonly ResourceName[] | undefined;
  /**
   * Backup jobs are asked for the customers whose job status is one of these codes
   * (ELEMENTS_JOBS_FOR_STATUS); undefined: every present customer.
   */
  jobsForStatus?: readonly number[] | undefined;
}

/** SyncOptions as a run uses them: every default applied, customer ids each once. */
export interface RunOptions {
  readonly pageSize: number;
  readonly customerIds: readonly string[] | undefined;
  /** sync_runs.customer_filter: the ids, comma-separated; null for a full run. */
  readonly customerFilter: string | null;
  readonly signal: AbortSignal | undefined;
  readonly maxDurationMs: number | undefined;
  readonly scheduledFor: Date | null;
  readonly onStart: boolean;
  readonly concurrency: number;
  readonly maxRemovalFraction: number;
  readonly allowMassRemoval: boolean;
  readonly minMergeBatch: number;
}

export function compileRunOptions(options: SyncOptions): RunOptions {
  const customerIds =
    options.customerIds === undefined
      ? undefined
      : Object.freeze([...new Set(options.customerIds)]);
  if (customerIds?.length === 0) throw new SyncError("No customer id to sync.");
  return Object.freeze({
    pageSize: checkedInteger("pageSize", options.pageSize, 1),
    customerIds,
    customerFilter: customerIds?.join(",") ?? null,
    signal: options.signal,
    maxDurationMs: options.maxDurationMs,
    scheduledFor: options.scheduledFor ?? null,
    onStart: options.onStart ?? false,
    concurrency: checkedInteger("concurrency", options.concurrency ?? DEFAULT_CONCURRENCY, 1),
    maxRemovalFraction: options.maxRemovalFraction ?? DEFAULT_MAX_REMOVAL_FRACTION,
    allowMassRemoval: options.allowMassRemoval ?? false,
    minMergeBatch: checkedInteger(
      "minMergeBatch",
      options.minMergeBatch ?? DEFAULT_MIN_MERGE_BATCH,
      1,
    ),
  });
}

/** Told after every staged page, for a progress display: where fetching stands. */
export type PageProgress = Pick<
  FetchProgress,
  "pagesFetched" | "apiTotalCount" | "rejectedRecords"
> & {
  runId: number;
  /** Follows the largest totalCount seen so far. */
  pagesPlanned: number;
};

/** Everything a step of a run is handed; nothing in it is replaced while the run lasts. */
export interface RunContext {
  readonly runId: number;
  readonly options: RunOptions;
  /** The run's logger (every line carries runId). */
  readonly log: Logger;
  readonly client: ElementsClient;
  /** Ends every request of the run: a stop from outside, the ceiling, or the pipeline failing. */
  readonly signal: AbortSignal;
  /** Aborted when the run passes SYNC_MAX_DURATION_MS; undefined without a ceiling. */
  readonly ceiling: RunCeiling | undefined;
  /** The run's one transaction, opened before the context. */
  readonly session: MergeSession;
  /** Where every record fetched goes, pages and lookups alike. */
  readonly pipeline: Pipeline;
  /** What the run has learned about the API's id filter (lookup.ts). */
  readonly idFilter: IdFilterSupport;
  readonly onProgress: ((progress: PageProgress) => void) | undefined;
  /** Closes the pipeline and rolls back what was not committed. Never throws. */
  close(): Promise<void>;
}

export interface RunParts {
  db: Database;
  client: ElementsClient;
  log: Logger;
  onProgress?: ((progress: PageProgress) => void) | undefined;
  runId: number;
  session: MergeSession;
}

/**
 * Pages per worker the pipeline holds beyond a batch merging and a batch waiting: with the
 * request in flight, memory stays at a few pages per worker however many customers (and
 * the byte budget bounds it when pages are small or their records huge).
 */
const PAGES_QUEUED_PER_WORKER = 2;

export async function openRunContext(parts: RunParts, options: RunOptions): Promise<RunContext> {
  const { runId, session, log } = parts;
  const ceiling =
    options.maxDurationMs === undefined ? undefined : startRunCeiling(options.maxDurationMs);
  const pipeline = await Pipeline.open(parts.db.pool, session, {
    runId,
    log,
    minMergeBatch: options.minMergeBatch,
    capacity:
      2 * options.minMergeBatch + PAGES_QUEUED_PER_WORKER * options.concurrency * options.pageSize,
    // The bound the start-up check (config.ts, fitsTheHeap) counts on, whatever the pages hold.
    byteBudget: queuedBytesBudget(parts.client.maxResponseBytes, options.concurrency),
  }).catch((error: unknown) => {
    ceiling?.clear();
    throw error;
  });
  const signals = [options.signal, ceiling?.signal, pipeline.failed];
  let closed: Promise<void> | undefined;
  return Object.freeze({
    runId,
    options,
    log,
    client: parts.client,
    signal: AbortSignal.any(signals.filter((one) => one !== undefined)),
    ceiling,
    session,
    pipeline,
    idFilter: new IdFilterSupport(log),
    onProgress: parts.onProgress,
    close() {
      closed ??= (async () => {
        ceiling?.clear();
        await pipeline.close();
        await session.abandon();
      })();
      return closed;
    },
  });
}
