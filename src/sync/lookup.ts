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
import { idsOf, judgeFilteredPage, type FilterForm, type IdFilter } from "../elements/id-filter.ts";
import { ElementsApiError } from "../elements/errors.ts";
import type { PageEnvelope } from "../elements/payload.ts";
import type { Logger } from "../logger.ts";
import { isObject } from "../values.ts";
import type { RequestContext } from "./fetch.ts";
import { forEachConcurrently } from "./pool.ts";
import { checkRecords, type RejectedRecord } from "./records.ts";
import type { StagingWriter } from "./staging.ts";

/** The reason a run gives when it could not ask for customers by id at all. */
export const FILTER_IGNORED =
  "the Elements API ignored the id filter in both forms (customerIds and customerId)";

/**
 * Which form of the id filter a run sends: `customerIds` until an answer shows the API
 * ignores it, then `customerId`, then none. One per run, shared by its concurrent
 * requests; each change is logged once.
 */
export class IdFilterSupport {
  readonly #log: Logger;
  #form: FilterForm | undefined = "customerIds";

  constructor(log: Logger) {
    this.#log = log;
  }

  /** The form to ask with; undefined once the API was seen to ignore both. */
  get form(): FilterForm | undefined {
    return this.#form;
  }

  /** An answer showed that the API ignores `form`. Answers still in flight may say it again. */
  ignored(form: FilterForm): void {
    if (this.#form !== form) return;
    if (form === "customerIds") {
      this.#form = "customerId";
      this.#log.warn(
        { form, next: "customerId" },
        "the Elements API ignores the customerIds filter (an answer held customers not asked for); asking with customerId, one id per request, for the rest of the run",
      );
    } else {
      this.#form = undefined;
      this.#log.warn({ form }, `${FILTER_IGNORED}: no customer can be asked for by id in this run`);
    }
  }
}

export interface LookupContext extends RequestContext {
  idFilter: IdFilterSupport;
}

export interface LookupResult {
  /** Ids the API still has, whose valid records are now in staging. */
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
}

/**
 * Asks for `ids`, `concurrency` requests at a time, in the form the run's IdFilterSupport
 * allows (up to `pageSize` ids per request with `customerIds`), and stages every valid
 * record of them that comes back.
 */
export async function lookUpCustomers(
  context: LookupContext,
  ids: readonly string[],
): Promise<LookupResult> {
  const result: LookupResult = {
    found: new Set(),
    rejected: [],
    gone: [],
    unsettled: [],
    requests: 0,
    lastTotalCount: null,
  };
  const queue = new LookupQueue(ids, context.idFilter, context.pageSize);
  const writer = await context.openWriter();
  try {
    const pool = { concurrency: context.concurrency, signal: context.signal };
    await forEachConcurrently(queue, pool, (batch, signal) =>
      settle(context, { batch, queue, writer, result }, signal),
    );
  } finally {
    await writer.idle();
    writer.close();
  }
  // Answers arrive in any order: messages name the ids in the order they were given.
  const position = new Map(ids.map((id, index) => [id, index]));
  const byPosition = (a: string, b: string) => (position.get(a) ?? 0) - (position.get(b) ?? 0);
  result.gone.sort(byPosition);
  result.unsettled.sort(byPosition);
  return result;
}

/** One batch: asked for in the run's current form, its records staged, its ids settled or requeued. */
async function settle(
  context: LookupContext,
  work: { batch: string[]; queue: LookupQueue; writer: StagingWriter; result: LookupResult },
  signal: AbortSignal,
): Promise<void> {
  const { batch, queue, writer, result } = work;
  const form = context.idFilter.form;
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
  const { accepted, rejected } = checkRecords(1, answer.records);
  await writer.write(accepted);
  for (const record of accepted) result.found.add(record.id);
  result.rejected.push(...rejected);
  const answered = new Set(answer.records.map(idOf));
  const unanswered = batch.filter((id) => !answered.has(id));
  if (answer.filtered) {
    result.gone.push(...unanswered);
  } else {
    context.idFilter.ignored(form);
    queue.retry(unanswered);
  }
}

/**
 * The ids still to ask for, in batches the size the current form allows: a page of them
 * with `customerIds`, one with `customerId`, all that are left once neither is honoured.
 * Ids an unfiltered answer left unsettled come back through retry() and go first.
 */
class LookupQueue implements Iterator<string[]> {
  readonly #ids: readonly string[];
  readonly #support: IdFilterSupport;
  readonly #pageSize: number;
  #next = 0;
  readonly #retries: string[] = [];

  constructor(ids: readonly string[], support: IdFilterSupport, pageSize: number) {
    this.#ids = ids;
    this.#support = support;
    this.#pageSize = pageSize;
  }

  retry(ids: readonly string[]): void {
    this.#retries.push(...ids);
  }

  next(): IteratorResult<string[], undefined> {
    const form = this.#support.form;
    const size =
      form === "customerIds" ? this.#pageSize : form === "customerId" ? 1 : Number.MAX_SAFE_INTEGER;
    const batch = this.#retries.splice(0, size);
    const more = Math.min(size - batch.length, this.#ids.length - this.#next);
    batch.push(...this.#ids.slice(this.#next, this.#next + more));
    this.#next += more;
    return batch.length === 0 ? { done: true, value: undefined } : { done: false, value: batch };
  }
}

/**
 * One filtered request, followed over further pages while the server looks as if it
 * applied the filter but has not yet sent every record it counts (a server that serves
 * smaller pages than asked). Any page that does not look filtered ends it: not filtered.
 */
async function ask(
  context: LookupContext,
  filter: IdFilter,
  result: LookupResult,
  signal: AbortSignal,
): Promise<Answer> {
  const asked = new Set(idsOf(filter));
  const records: unknown[] = [];
  const seen = new Set<string>();
  for (let pageIndex = 1; ; pageIndex += 1) {
    const page = await fetchFiltered(context, { pageIndex, filter }, signal);
    result.requests += 1;
    result.lastTotalCount = page.metadata.totalCount;
    records.push(...page.data.filter((record) => isAsked(asked, record)));
    const judged = judgeFilteredPage(page, asked);
    if (judged.kind === "ignored") return { records, filtered: false };
    const before = seen.size;
    for (const id of judged.ids) seen.add(id);
    if (seen.size === judged.totalCount) return { records, filtered: true };
    // More records than counted, or a page that adds none of those still owed: what such
    // a server leaves out proves nothing.
    if (seen.size > judged.totalCount || seen.size === before) return { records, filtered: false };
  }
}

/** A 404 is the API saying it has none of the ids: an empty filtered answer. */
async function fetchFiltered(
  context: LookupContext,
  request: { pageIndex: number; filter: IdFilter },
  signal: AbortSignal,
): Promise<PageEnvelope> {
  try {
    return await context.client.fetchPage({ ...request, pageSize: context.pageSize }, signal);
  } catch (error) {
    if (error instanceof ElementsApiError && error.status === 404) {
      return { data: [], metadata: { totalCount: 0 } };
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
