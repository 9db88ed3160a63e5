// Which pages a run fetches, and when it stops. totalCount says how many pages there should
// be, but one wrong number must not make the worker page on for millions of requests: what
// the pages hold bounds the paging too.
// - A page that comes back empty, or whose records add no id earlier pages had not, ends the
//   paging: pages after it would be empty or repeats as well (a server that ignores
//   pageIndex serves page 1 again and again).
// - A page whose metadata names another pageIndex than the one asked for ends it too.
// - A ceiling: page N is requested only while N ≤ 1 + concurrency + 2 × ceil(D / pageSize),
//   D being the distinct customers the pages so far added. An honest API adds a page's worth
//   per page and never meets it; pages of repeats or of few records do, within a few pages.
//   A worker the ceiling holds back while pages are still on their way into staging waits
//   for the next one (what it adds may lift the ceiling): next() then answers with a promise
//   that resolves when a page is staged.
// Stopping early makes the run incomplete (nothing is marked removed), with the reason.
import { pageCount } from "../elements/paging.ts";
import type { WorkSource } from "./pool.ts";

export interface PagePlanOptions {
  /** The page size page 1 was served with; later pages are asked for with it. */
  pageSize: number;
  /** Requests in flight at a time: the ceiling leaves room for them. */
  concurrency: number;
}

/** What the pages added ahead of what they were asked: the ceiling's factor. */
const CEILING_FACTOR = 2;

/**
 * The pages after page 1 a run fetches, handed out in order (a WorkSource for the request
 * pool). The plan covers the largest totalCount any page reported, within the ceiling and
 * until a stop rule fires.
 */
export class PagePlan implements WorkSource<number> {
  readonly totalCounts = new Set<number>();
  readonly pageSize: number;
  readonly #concurrency: number;
  #pages = 1;
  #next = 2;
  /** Pages staged so far, page 1 included. */
  #stagedPages = 0;
  /** Distinct customers the staged pages added. */
  #distinct = 0;
  /** The earliest page that ended the paging, and why. */
  #stopped: { pageIndex: number; reason: string } | undefined;
  /** Workers the ceiling holds back, told when the next page is staged. */
  #waiting: (() => void)[] = [];

  constructor(options: PagePlanOptions) {
    this.pageSize = options.pageSize;
    this.#concurrency = options.concurrency;
  }

  /** Pages the largest totalCount implies. */
  get pages(): number {
    return this.#pages;
  }

  /** The highest page index the customers seen so far allow. */
  get ceiling(): number {
    return 1 + this.#concurrency + CEILING_FACTOR * Math.ceil(this.#distinct / this.pageSize);
  }

  /** An answer arrived for page `asked`: its totalCount, and the pageIndex it claims. */
  answered(asked: number, metadata: { totalCount: number; pageIndex?: number | null }): void {
    this.totalCounts.add(metadata.totalCount);
    this.#pages = Math.max(this.#pages, pageCount(metadata.totalCount, this.pageSize));
    const reported = metadata.pageIndex;
    if (reported != null && reported !== asked) {
      this.#stop(
        asked,
        `the API answered the request for page ${asked} as page ${reported} (it ignores pageIndex)`,
      );
    }
  }

  /**
   * Page `pageIndex` is staged: it held `records` records, `accepted` of them valid, whose
   * ids `newIds` no earlier page had.
   */
  staged(page: { pageIndex: number; records: number; accepted: number; newIds: number }): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
    this.#stagedPages += 1;
    this.#distinct += page.newIds;
    const total = Math.max(...this.totalCounts);
    if (page.records === 0 && total > 0) {
      this.#stop(
        page.pageIndex,
        `page ${page.pageIndex} came back empty although totalCount ${total} implies ${this.#pages} page(s)`,
      );
    } else if (page.pageIndex > 1 && page.accepted > 0 && page.newIds === 0) {
      this.#stop(
        page.pageIndex,
        `page ${page.pageIndex} added no customer earlier pages had not (the API seems to ignore pageIndex)`,
      );
    }
  }

  /** Why paging ended before the plan's last page, or undefined when it did not. */
  stopReason(): string | undefined {
    if (this.#stopped !== undefined) return this.#stopped.reason;
    if (this.#next <= this.#pages) {
      const total = Math.max(...this.totalCounts);
      return (
        `${this.#next - 1} page(s) held only ${this.#distinct} distinct customer(s) of totalCount ${total}: ` +
        `stopped at the request ceiling (page ${this.ceiling} of ${this.#pages})`
      );
    }
    return undefined;
  }

  /**
   * The next page, or the end; while only pages still being staged can lift the ceiling, a
   * promise that resolves when the next one is (ask again then).
   */
  next(): IteratorResult<number, undefined> | Promise<void> {
    if (this.#stopped !== undefined || this.#next > this.#pages) {
      return { done: true, value: undefined };
    }
    if (this.#next > this.ceiling) {
      // Pages handed out (page 1 too) but not staged yet may still lift the ceiling.
      const unstaged = this.#next - 1 - this.#stagedPages;
      if (unstaged === 0) return { done: true, value: undefined };
      return new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    return { done: false, value: this.#next++ };
  }

  /**
   * No page after this one is handed out; pages already in flight still arrive and are
   * staged. Of several, the earliest page's reason stands, whatever order answers came in.
   */
  #stop(pageIndex: number, reason: string): void {
    if (this.#stopped === undefined || pageIndex < this.#stopped.pageIndex) {
      this.#stopped = { pageIndex, reason };
    }
  }
}
