// What a run knows of the API's id filter, and the ids it still has to ask for in the form
// the filter allows (lookup.ts asks).
import type { FilterForm } from "../elements/id-filter.ts";
import type { Logger } from "../logger.ts";
import type { WorkSource } from "./pool.ts";

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

/**
 * The ids still to ask for, in batches the size the current form allows: a page of them
 * with `customerIds`, one with `customerId`, all that are left once neither is honoured.
 * Ids an unfiltered answer left unsettled come back through retry() and go first.
 */
export class LookupQueue implements WorkSource<string[]> {
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
