// The paging plan's bounds: what the pages hold, not one number, decides how far a run pages.
import { describe, expect, it } from "vitest";
import { PagePlan } from "../../src/sync/page-plan.ts";

function plan(totalCount: number, pageSize = 10, concurrency = 2): PagePlan {
  const created = new PagePlan({ pageSize, concurrency });
  created.answered(1, { totalCount, pageIndex: 1 });
  return created;
}

/** Hands out every page the plan allows now, up to the end or a wait for staging. */
function drain(pages: PagePlan): number[] {
  const handed: number[] = [];
  for (
    let next = pages.next();
    !(next instanceof Promise) && next.done !== true;
    next = pages.next()
  ) {
    handed.push(next.value);
  }
  return handed;
}

/** Whether the plan, asked now, ends the paging (no page, nothing to wait for). */
function ended(pages: PagePlan): boolean {
  const next = pages.next();
  return !(next instanceof Promise) && next.done === true;
}

interface PageHeld {
  records: number;
  accepted: number;
  newIds: number;
}

/** Stages page 1 and then every page the plan hands out, as `held` says; returns the pages requested. */
function pageThrough(pages: PagePlan, held: (pageIndex: number) => PageHeld): number[] {
  const fetched = [1];
  pages.staged({ pageIndex: 1, ...held(1) });
  for (let handed = drain(pages); handed.length > 0; handed = drain(pages)) {
    for (const pageIndex of handed) {
      fetched.push(pageIndex);
      pages.staged({ pageIndex, ...held(pageIndex) });
    }
  }
  expect(ended(pages)).toBe(true);
  return fetched;
}

/** An honest API's page of `customers` at 10 a page: every record valid and new. */
const honest =
  (customers: number) =>
  (pageIndex: number): PageHeld => {
    const records = Math.max(0, Math.min(10, customers - (pageIndex - 1) * 10));
    return { records, accepted: records, newIds: records };
  };

describe("the page plan", () => {
  it("fetches every page an honest totalCount implies, and says nothing", () => {
    const pages = plan(1000);
    expect(pageThrough(pages, honest(1000))).toHaveLength(100);
    expect(pages.stopReason()).toBeUndefined();
  });

  it("starts with the pages the concurrency keeps in flight, before anything is staged", () => {
    expect(drain(plan(1000, 10, 4))).toEqual([2, 3, 4, 5]);
  });

  it("stops at the first empty page, however large totalCount says the list is", () => {
    const pages = plan(1_000_000_000, 100, 4);
    pages.staged({ pageIndex: 1, records: 3, accepted: 3, newIds: 3 });
    expect(drain(pages).length).toBeLessThanOrEqual(6);
    pages.staged({ pageIndex: 2, records: 0, accepted: 0, newIds: 0 });
    expect(ended(pages)).toBe(true);
    expect(pages.stopReason()).toBe(
      "page 2 came back empty although totalCount 1000000000 implies 10000000 page(s)",
    );
  });

  it("stops at a page that adds no new customer (pageIndex ignored)", () => {
    const pages = plan(60, 20);
    pages.staged({ pageIndex: 1, records: 20, accepted: 20, newIds: 20 });
    expect(drain(pages)).toEqual([2, 3]);
    pages.staged({ pageIndex: 2, records: 20, accepted: 20, newIds: 0 });
    expect(pages.stopReason()).toBe(
      "page 2 added no customer earlier pages had not (the API seems to ignore pageIndex)",
    );
  });

  it("stops when an answer names another page than the one asked for", () => {
    const pages = plan(60, 20);
    drain(pages);
    pages.answered(2, { totalCount: 60, pageIndex: 1 });
    expect(ended(pages)).toBe(true);
    expect(pages.stopReason()).toBe(
      "the API answered the request for page 2 as page 1 (it ignores pageIndex)",
    );
  });

  it("holds requests to what the pages added: a trickle of new ids meets the ceiling", () => {
    const pages = plan(1_000_000_000, 100, 4);
    // Every page full, yet only one of its customers is new.
    const requested = pageThrough(pages, () => ({ records: 100, accepted: 100, newIds: 1 }));
    // 1 + concurrency + 2 × ceil(distinct / pageSize) pages at most.
    expect(requested.length).toBeLessThanOrEqual(1 + 4 + 2);
    expect(pages.stopReason()).toMatch(
      /^\d+ page\(s\) held only \d+ distinct customer\(s\) of totalCount 1000000000: stopped at the request ceiling/,
    );
  });

  it("does not count rejected records toward the ceiling, nor stop on them", () => {
    const pages = plan(1_000_000, 100, 2);
    const requested = pageThrough(pages, () => ({ records: 100, accepted: 0, newIds: 0 }));
    expect(requested).toEqual([1, 2, 3]);
    expect(pages.stopReason()).toMatch(/stopped at the request ceiling/);
  });

  it("follows a totalCount that grows, within what the pages hold", () => {
    expect(pageThrough(plan(30), honest(30))).toEqual([1, 2, 3]);
    const grown = plan(30);
    grown.staged({ pageIndex: 1, records: 10, accepted: 10, newIds: 10 });
    grown.answered(2, { totalCount: 50, pageIndex: 2 });
    expect(drain(grown)).toEqual([2, 3, 4, 5]);
  });
});

describe("a worker the ceiling holds back", () => {
  it("waits while pages are on their way into staging, then goes on", async () => {
    const pages = plan(1000, 10, 2);
    // Page 1 is not staged yet: pages 2 and 3 (the concurrency), then a wait, not the end.
    expect(drain(pages)).toEqual([2, 3]);
    const waiting = pages.next();
    expect(waiting).toBeInstanceOf(Promise);
    pages.staged({ pageIndex: 1, records: 10, accepted: 10, newIds: 10 });
    await waiting;
    expect(drain(pages)).toEqual([4, 5]);
  });

  it("wakes a waiting worker to end the paging when the last page staged lifts nothing", async () => {
    const pages = plan(1000, 10, 2);
    drain(pages);
    for (const pageIndex of [1, 2]) {
      pages.staged({ pageIndex, records: 10, accepted: 0, newIds: 0 });
    }
    const waiting = pages.next();
    expect(waiting).toBeInstanceOf(Promise);
    pages.staged({ pageIndex: 3, records: 10, accepted: 0, newIds: 0 });
    await waiting;
    expect(ended(pages)).toBe(true);
  });

  it("ends the paging when nothing is left to stage that could lift the ceiling", () => {
    const pages = plan(1000, 10, 2);
    drain(pages);
    for (const pageIndex of [1, 2, 3]) {
      pages.staged({ pageIndex, records: 10, accepted: 0, newIds: 0 });
    }
    expect(ended(pages)).toBe(true);
    expect(pages.stopReason()).toMatch(/stopped at the request ceiling/);
  });
});

describe("the page plan's reason", () => {
  it("names the earliest page that ended the paging, whatever order answers came in", () => {
    const pages = plan(1_000_000_000, 100, 4);
    pages.staged({ pageIndex: 1, records: 3, accepted: 3, newIds: 3 });
    drain(pages);
    for (const pageIndex of [4, 3, 5, 2]) {
      pages.staged({ pageIndex, records: 0, accepted: 0, newIds: 0 });
    }
    expect(pages.stopReason()).toMatch(/^page 2 came back empty/);
  });
});
