// Step 3 of a run: every page into staging. Page 1 alone tells totalCount and the page size
// the server really uses; the further pages the plan calls for follow, `concurrency` at a
// time, each checked and staged as it arrives while the next ones are in flight. The plan
// (page-plan.ts) stops early when what the pages hold says further pages are no use.
import type { ElementsClient } from "../elements/client.ts";
import type { PageEnvelope } from "../elements/payload.ts";
import { effectivePageSize } from "../elements/paging.ts";
import type { Logger } from "../logger.ts";
import { AWAIT_STAGING, PagePlan, type PlanItem } from "./page-plan.ts";
import { forEachConcurrently } from "./pool.ts";
import { checkRecords, UnknownCodeReporter } from "./records.ts";
import type { FetchProgress } from "./runs.ts";
import type { StagingWriter } from "./staging.ts";

/** Told after every staged page, for a progress display: where fetching stands. */
export type PageProgress = Pick<
  FetchProgress,
  "pagesFetched" | "apiTotalCount" | "rejectedRecords"
> & {
  runId: number;
  /** Follows the largest totalCount seen so far. */
  pagesPlanned: number;
};

/** What sending a run's requests and staging the answers takes: the pages' and the lookups'. */
export interface RequestContext {
  client: ElementsClient;
  log: Logger;
  runId: number;
  pageSize: number;
  /** Requests in flight at a time (after page 1). */
  concurrency: number;
  signal: AbortSignal | undefined;
  openWriter: () => Promise<StagingWriter>;
}

export interface FetchContext extends RequestContext {
  /** Counted up as pages arrive; the caller records it whether the run succeeds or fails. */
  progress: FetchProgress;
  onProgress: ((progress: PageProgress) => void) | undefined;
}

export interface Fetched {
  /** Every totalCount the pages reported. */
  totalCounts: ReadonlySet<number>;
  /** Why paging stopped before the last page totalCount implies; null when it did not. */
  pagingStopped: string | null;
  /** The page size the server served page 1 with (lookups by id ask for that many ids). */
  pageSize: number;
  /** When the last page arrived (performance.now()). */
  lastPageAt: number;
}

export async function fetchIntoStaging(context: FetchContext): Promise<Fetched> {
  const writer = await context.openWriter();
  try {
    const first = await requestPage(context, 1, context.pageSize, context.signal);
    let lastPageAt = performance.now();
    const plan = new PagePlan({
      pageSize: servedPageSize(context, first),
      concurrency: context.concurrency,
    });
    plan.answered(1, first.metadata);
    const staging = new PageStaging(context, writer, plan);
    staging.add(1, first);
    const pool = { concurrency: context.concurrency, signal: context.signal };
    await forEachConcurrently<PlanItem>(plan, pool, async (item, signal) => {
      // Held back by the ceiling: what the pages being staged add may lift it.
      if (item === AWAIT_STAGING) return staging.nextStaged(signal);
      const page = await requestPage(context, item, plan.pageSize, signal);
      lastPageAt = performance.now();
      plan.answered(item, page.metadata);
      await staging.room();
      staging.add(item, page);
    });
    await staging.written();
    const pagingStopped = plan.stopReason() ?? null;
    if (pagingStopped !== null) {
      context.log.warn(
        { reason: pagingStopped, pagesFetched: context.progress.pagesFetched },
        "stopped paging early: the run will be incomplete",
      );
    }
    return {
      totalCounts: plan.totalCounts,
      pagingStopped,
      pageSize: plan.pageSize,
      lastPageAt,
    };
  } finally {
    // Nothing may still be writing to staging when the run is recorded or cleared.
    await writer.idle();
    writer.close();
  }
}

async function requestPage(
  context: FetchContext,
  pageIndex: number,
  pageSize: number,
  signal: AbortSignal | undefined,
): Promise<PageEnvelope> {
  const { client, progress } = context;
  const page = await client.fetchPage({ pageIndex, pageSize }, signal);
  progress.apiTotalCount = page.metadata.totalCount;
  progress.pagesFetched += 1;
  return page;
}

/** The page size page 1 was served with: later pages must use it for offsets to agree. */
function servedPageSize(context: FetchContext, first: PageEnvelope): number {
  const requested = context.pageSize;
  const served = effectivePageSize(requested, first.metadata.pageSize);
  if (served !== requested) {
    context.log.warn(
      { requested, served },
      "the API serves smaller pages than requested; planning with its page size",
    );
  }
  return served;
}

/**
 * Pages on their way into staging: each is checked, written (the writer puts pages that
 * queue up meanwhile into one write) and then reported to onProgress. While two pages per
 * worker are being staged, a page that arrives waits for room and holds back its worker's
 * next request: with the one in flight or waiting per worker, memory stays at about
 * 3 × concurrency pages however many customers there are.
 */
class PageStaging {
  readonly #context: FetchContext;
  readonly #writer: StagingWriter;
  readonly #plan: PagePlan;
  readonly #unknownCodes: UnknownCodeReporter;
  /** Settle without rejecting; a failure is kept in #failure. */
  readonly #writes = new Set<Promise<void>>();
  /** Told when a page's staging settles. */
  readonly #waiting = new Set<() => void>();
  #failure: { error: unknown } | undefined;

  constructor(context: FetchContext, writer: StagingWriter, plan: PagePlan) {
    this.#context = context;
    this.#writer = writer;
    this.#plan = plan;
    this.#unknownCodes = new UnknownCodeReporter(context.log);
  }

  /** Resolves when another page may be staged; rejects once a page failed to be written. */
  async room(): Promise<void> {
    while (this.#writes.size >= 2 * this.#context.concurrency && this.#failure === undefined) {
      await Promise.race(this.#writes);
    }
    if (this.#failure) throw this.#failure.error;
  }

  add(pageIndex: number, page: PageEnvelope): void {
    const write = this.#stage(pageIndex, page).catch((error: unknown) => {
      this.#failure ??= { error };
    });
    this.#writes.add(write);
    void write.then(() => {
      this.#writes.delete(write);
      for (const wake of this.#waiting) wake();
    });
  }

  /** Resolves when the next page's staging settles; rejects when `signal` aborts first. */
  nextStaged(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.throwIfAborted();
      const wake = () => {
        this.#waiting.delete(wake);
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiting.delete(wake);
        reject(signal.reason as Error);
      };
      this.#waiting.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Resolves when every page added is written; rejects with the first that was not. */
  async written(): Promise<void> {
    await Promise.all(this.#writes);
    if (this.#failure) throw this.#failure.error;
  }

  async #stage(pageIndex: number, page: PageEnvelope): Promise<void> {
    const { log, progress } = this.#context;
    const { accepted, rejected } = checkRecords(pageIndex, page.data);
    for (const record of rejected) log.warn(record, "rejected a customer record");
    progress.rejectedRecords += rejected.length;
    this.#unknownCodes.check(accepted);
    const newIds = await this.#writer.write(accepted);
    const records = page.data.length;
    this.#plan.staged({ pageIndex, records, accepted: accepted.length, newIds });
    log.debug({ pageIndex, pages: this.#plan.pages, records, newIds }, "page staged");
    this.#context.onProgress?.({
      runId: this.#context.runId,
      pagesFetched: progress.pagesFetched,
      pagesPlanned: this.#plan.pages,
      apiTotalCount: progress.apiTotalCount,
      rejectedRecords: progress.rejectedRecords,
    });
  }
}
