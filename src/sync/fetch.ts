// Steps 3 and 4 of a full run: every page into the run's pipeline, then whether the run saw
// every customer. Page 1 alone tells totalCount and the page size the server really uses;
// the further pages the plan calls for follow, `concurrency` at a time, each handed to the
// pipeline as it arrives while the next ones are in flight (requestPool: a request slot is
// not held while its page is checked and queued). The plan (page-plan.ts) stops
// early when what the pages hold says further pages are no use.
import type { Page } from "../elements/client.ts";
import { effectivePageSize } from "../elements/paging.ts";
import { judgeCompleteness, type Completeness } from "./completeness.ts";
import { PagePlan } from "./page-plan.ts";
import { forEachConcurrently, requestPool } from "./pool.ts";
import type { RunContext } from "./run-context.ts";

export type { PageProgress } from "./run-context.ts";

/** What fetching tells the rest of the run. */
export interface Fetched {
  completeness: Completeness;
  /** The page size the server served (lookups by id ask for that many ids at a time). */
  pageSize: number;
  /** When the last page arrived (performance.now()). */
  lastPageAt: number;
}

export async function fetchEveryPage(run: RunContext): Promise<Fetched> {
  const { client, log, pipeline, options, signal } = run;
  const first = await client.fetchPage({ pageIndex: 1, pageSize: options.pageSize }, signal);
  let lastPageAt = performance.now();
  const plan = new PagePlan({
    pageSize: servedPageSize(run, first),
    concurrency: options.concurrency,
  });
  const take = async (pageIndex: number, page: Page, pageSignal: AbortSignal | undefined) => {
    plan.answered(pageIndex, page.metadata);
    pipeline.answered(page.metadata.totalCount);
    const records = page.data.length;
    await pipeline.add(pageIndex, page, {
      signal: pageSignal,
      onStaged: ({ accepted, newIds }) => {
        plan.staged({ pageIndex, records, accepted, newIds });
        log.debug({ pageIndex, pages: plan.pages, records, newIds }, "page staged");
        const tally = pipeline.tally();
        run.onProgress?.({
          runId: run.runId,
          pagesFetched: tally.pagesFetched,
          pagesPlanned: plan.pages,
          apiTotalCount: tally.apiTotalCount,
          rejectedRecords: tally.rejectedRecords,
        });
      },
    });
  };
  await take(1, first, signal);
  const { pool, inFlight } = requestPool(options.concurrency, signal);
  await forEachConcurrently(plan, pool, async (pageIndex, pageSignal) => {
    const page = await client.fetchPage(
      { pageIndex, pageSize: plan.pageSize, slots: inFlight },
      pageSignal,
    );
    lastPageAt = performance.now();
    await take(pageIndex, page, pageSignal);
  });
  // Every page staged (the plan's stop rules have seen them all) and merged.
  const seen = await pipeline.drained();
  const pagingStopped = plan.stopReason() ?? null;
  if (pagingStopped !== null) {
    log.warn(
      { reason: pagingStopped, pagesFetched: seen.pagesFetched },
      "stopped paging early: the run will be incomplete",
    );
  }
  const completeness = judgeCompleteness({
    customerFilter: null,
    totalCounts: plan.totalCounts,
    distinctCustomers: seen.customersSeen,
    rejectedRecords: seen.rejectedRecords,
    pagingStopped,
  });
  return { completeness, pageSize: plan.pageSize, lastPageAt };
}

/** The page size page 1 was served with: later pages must use it for offsets to agree. */
function servedPageSize(run: RunContext, first: Page): number {
  const requested = run.options.pageSize;
  const served = effectivePageSize(requested, first.metadata.pageSize);
  if (served !== requested) {
    run.log.warn(
      { requested, served },
      "the API serves smaller pages than requested; planning with its page size",
    );
  }
  return served;
}
