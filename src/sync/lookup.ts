// Asking the API for customers by id: the lookups that confirm a removal, and the runs of
// `sync --customer`. Today's API takes `customerIds` (a list), the seed's `customerId` (one
// id), and a server ignores the field it does not know, answering with a page of all
// customers. So:
// - a run asks with `customerIds`, a page of ids per request, until an answer shows the
//   server ignored it; then with `customerId`, one id per request; if that is ignored too,
//   it asks no more (IdFilterSupport, one per run, logs each change once);
// - a record of an id asked for counts wherever it comes from: that customer exists;
// - an id is gone only when the answer to a filter the server applied leaves it out
//   (judgeFilteredPage, and every record that answer counts received); an answer that was
//   not filtered confirms nothing, and its ids are asked again in the next form.
import { idsOf, judgeFilteredPage, type IdFilter } from "../elements/id-filter.ts";
import { ElementsApiError } from "../elements/errors.ts";
import type { Page } from "../elements/client.ts";
import { SyncError } from "../errors.ts";
import { isObject } from "../values.ts";
import { judgeCompleteness } from "./completeness.ts";
import type { Fetched } from "./fetch.ts";
import { FILTER_IGNORED, LookupQueue } from "./id-filter-support.ts";
import { forEachConcurrently } from "./pool.ts";
import type { RejectedRecord } from "./records.ts";
import type { RunContext } from "./run-context.ts";

export interface LookupResult {
  /** Ids the API still has, whose valid records are now merged. */
  found: Set<string>;
  /** Records of ids asked for that failed the checks (their customers exist). */
  rejected: RejectedRecord[];
  /** Ids a filter the API applied showed to be gone. */
  gone: string[];
  /** Ids neither found nor shown gone: the API ignored the filter in both forms. */
  unsettled: string[];
  requests: number;
  /** The totalCount of the last answer (a --customer run records it). */
  lastTotalCount: number | null;
}

/** What one filtered request (with its further pages, if any) gave. */
interface Answer {
  /** Records of ids asked for, from whatever page. */
  records: unknown[];
  /** The server applied the filter, and every record it counts arrived. */
  filtered: boolean;
  /** The bodies of its pages, in bytes: what its records count as against the byte budget. */
  bodyBytes: number;
  /** Their envelopes' unknown fields. */
  envelopeFields: string[];
}

/**
 * Asks for `ids`, `concurrency` requests at a time, in the form the run's IdFilterSupport
 * allows (up to `pageSize` ids per request with `customerIds`), and hands every record of
 * them that comes back to the run's pipeline; resolves once the valid ones are merged.
 */
export async function lookUpCustomers(
  run: RunContext,
  ids: readonly string[],
  pageSize: number,
): Promise<LookupResult> {
  const result: LookupResult = {
    found: new Set(),
    rejected: [],
    gone: [],
    unsettled: [],
    requests: 0,
    lastTotalCount: null,
  };
  const queue = new LookupQueue(ids, run.idFilter, pageSize);
  const pool = { concurrency: run.options.concurrency, signal: run.signal };
  await forEachConcurrently(queue, pool, (batch, signal) =>
    settle({ run, pageSize }, { batch, queue, result }, signal),
  );
  await run.pipeline.drained();
  // Answers arrive in any order: messages name the ids in the order they were given.
  const position = new Map(ids.map((id, index) => [id, index]));
  const byPosition = (a: string, b: string) => (position.get(a) ?? 0) - (position.get(b) ?? 0);
  result.gone.sort(byPosition);
  result.unsettled.sort(byPosition);
  return result;
}

/** Where lookups ask: the run, with the page size its pages were served with. */
interface Asking {
  run: RunContext;
  pageSize: number;
}

/** One batch: asked for in the run's current form, its records handed on, its ids settled or requeued. */
async function settle(
  context: Asking,
  work: { batch: string[]; queue: LookupQueue; result: LookupResult },
  signal: AbortSignal,
): Promise<void> {
  const { batch, queue, result } = work;
  const { idFilter, pipeline } = context.run;
  const form = idFilter.form;
  if (form === undefined) {
    result.unsettled.push(...batch);
    return;
  }
  // Handed out before an answer showed customerIds ignored: one id per request from now on.
  if (form === "customerId" && batch.length > 1) {
    queue.retry(batch);
    return;
  }
  const filter: IdFilter =
    form === "customerIds" ? { form, ids: batch } : { form, id: batch[0] ?? "" };
  const answer = await ask(context, filter, result, signal);
  const page = {
    data: answer.records,
    bodyBytes: answer.bodyBytes,
    envelopeFields: answer.envelopeFields,
  };
  const { accepted, rejected } = await pipeline.add(1, page, { signal });
  for (const record of accepted) result.found.add(record.id);
  result.rejected.push(...rejected);
  const answered = new Set(answer.records.map(idOf));
  const unanswered = batch.filter((id) => !answered.has(id));
  if (answer.filtered) {
    result.gone.push(...unanswered);
  } else {
    idFilter.ignored(form);
    queue.retry(unanswered);
  }
}

/**
 * One filtered request, followed over further pages while the server looks as if it
 * applied the filter but has not yet sent every record it counts (a server that serves
 * smaller pages than asked). Any page that does not look filtered ends it: not filtered.
 */
async function ask(
  context: Asking,
  filter: IdFilter,
  result: LookupResult,
  signal: AbortSignal,
): Promise<Answer> {
  const asked = new Set(idsOf(filter));
  const records: unknown[] = [];
  let bodyBytes = 0;
  const envelopeFields = new Set<string>();
  const answer = (filtered: boolean): Answer => ({
    records,
    filtered,
    bodyBytes,
    envelopeFields: [...envelopeFields],
  });
  const seen = new Set<string>();
  for (let pageIndex = 1; ; pageIndex += 1) {
    const page = await fetchFiltered(context, { pageIndex, filter }, signal);
    result.requests += 1;
    result.lastTotalCount = page.metadata.totalCount;
    records.push(...page.data.filter((record) => isAsked(asked, record)));
    bodyBytes += page.bodyBytes;
    for (const field of page.envelopeFields) envelopeFields.add(field);
    const judged = judgeFilteredPage(page, asked);
    if (judged.kind === "ignored") return answer(false);
    const before = seen.size;
    for (const id of judged.ids) seen.add(id);
    if (seen.size === judged.totalCount) return answer(true);
    // More records than counted, or a page that adds none of those still owed: what such
    // a server leaves out proves nothing.
    if (seen.size > judged.totalCount || seen.size === before) return answer(false);
  }
}

/** A 404 is the API saying it has none of the ids: an empty filtered answer. */
async function fetchFiltered(
  context: Asking,
  request: { pageIndex: number; filter: IdFilter },
  signal: AbortSignal,
): Promise<Page> {
  try {
    return await context.run.client.fetchPage({ ...request, pageSize: context.pageSize }, signal);
  } catch (error) {
    if (error instanceof ElementsApiError && error.status === 404) {
      return { data: [], metadata: { totalCount: 0 }, bodyBytes: 0, envelopeFields: [] };
    }
    throw error;
  }
}

function isAsked(asked: ReadonlySet<string>, record: unknown): boolean {
  const id = idOf(record);
  return id !== undefined && asked.has(id);
}

function idOf(record: unknown): string | undefined {
  const id = isObject(record) ? record.id : undefined;
  return typeof id === "string" ? id : undefined;
}

/**
 * Steps 3 and 4 of a `--customer` run: exactly the customers named, asked for by id as
 * removal lookups are, so whichever filter form the API honours is used and no other
 * customer's record is merged. A run that saw them all is still incomplete; one that did
 * not fails, naming who is missing, rather than merge part of what was asked.
 */
export async function fetchNamedCustomers(
  run: RunContext,
  ids: readonly string[],
): Promise<Fetched> {
  const { pageSize } = run.options;
  const found = await lookUpCustomers(run, ids, pageSize);
  run.pipeline.answered(found.lastTotalCount, found.requests);
  const lastPageAt = performance.now();
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
    distinctCustomers: run.pipeline.tally().customersSeen,
    rejectedRecords: 0,
    pagingStopped: null,
  });
  return { completeness, pageSize, lastPageAt };
}

function sentence(clause: string): string {
  return clause.charAt(0).toUpperCase() + clause.slice(1);
}
