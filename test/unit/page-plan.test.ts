// The paging plan's bounds: what the pages hold, not one number, decides how far a run pages.
import { describe, expect, it } from "vitest";
import { PagePlan } from "../../src/sync/page-plan.ts";

function plan(totalCount: number, pageSize = 10, concurrency = 2): PagePlan {
  const created = new PagePlan({ pageSize, concurrency, singleCustomer: false });
  created.answered(1, { totalCount, pageIndex: 1 });
  return created;
}

/** Hands out every page the plan allows now. */
function drain(pages: PagePlan): number[] {
  const handed: number[] = [];
  for (let next = pages.next(); next.done !== true; next = pages.next()) handed.push(next.value);
  return handed;
}

/** Plays an honest API: each page full of new customers until `customers` are served. */
function pageHonestly(pages: PagePlan, customers: number, pageSize = 10): number[] {
  const fetched = [1];
  pages.staged({ pageIndex: 1, records: pageSize, accepted: pageSize, newIds: pageSize });
  do {
    for (const pageIndex of drain(pages)) {
      fetched.push(pageIndex);
      const records = Math.max(0, Math.min(pageSize, customers - (pageIndex - 1) * pageSize));
      pages.staged({ pageIndex, records, accepted: records, newIds: records });
    }
  } while (pages.hasMore());
  return fetched;
}

describe("the page plan", () => {
  it("fetches every page an honest totalCount implies, and says nothing", () => {
    const pages = plan(1000);
    expect(pageHonestly(pages, 1000)).toHaveLength(100);
    expect(pages.stopReason()).toBeUndefined();
  });

  it("starts with the pages the concurrency keeps in flight, before anything is staged", () => {
    expect(drain(plan(1000, 10, 4))).toEqual([2, 3, 4, 5]);
  });

  it("stops at the first empty page, however large totalCount says the list is", () => {
    const pages = plan(1_000_000_000, 100, 4);
    pages.staged({ pageIndex: 1, records: 3, accepted: 3, newIds: 3 });
    const handed = drain(pages);
    expect(handed.length).toBeLessThanOrEqual(6);
    pages.staged({ pageIndex: 2, records: 0, accepted: 0, newIds: 0 });
    expect(pages.next().done).toBe(true);
    expect(pages.hasMore()).toBe(false);
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
    expect(pages.hasMore()).toBe(false);
    expect(pages.stopReason()).toBe(
      "the API answered the request for page 2 as page 1 (it ignores pageIndex)",
    );
  });

  it("holds requests to what the pages added: a trickle of new ids meets the ceiling", () => {
    const pages = plan(1_000_000_000, 100, 4);
    let requested = 1;
    pages.staged({ pageIndex: 1, records: 100, accepted: 100, newIds: 1 });
    do {
      for (const pageIndex of drain(pages)) {
        requested += 1;
        // Every page full, yet only one of its customers is new.
        pages.staged({ pageIndex, records: 100, accepted: 100, newIds: 1 });
      }
    } while (pages.hasMore());
    // 1 + concurrency + 2 × ceil(distinct / pageSize) pages at most.
    expect(requested).toBeLessThanOrEqual(1 + 4 + 2);
    expect(pages.stopReason()).toMatch(
      /^\d+ page\(s\) held only \d+ distinct customer\(s\) of totalCount 1000000000: stopped at the request ceiling/,
    );
  });

  it("does not count rejected records toward the ceiling, nor stop on them", () => {
    const pages = plan(1_000_000, 100, 2);
    pages.staged({ pageIndex: 1, records: 100, accepted: 0, newIds: 0 });
    const handed = drain(pages);
    expect(handed).toEqual([2, 3]);
    for (const pageIndex of handed)
      pages.staged({ pageIndex, records: 100, accepted: 0, newIds: 0 });
    expect(pages.hasMore()).toBe(false);
    expect(pages.stopReason()).toMatch(/stopped at the request ceiling/);
  });

  it("follows a totalCount that grows, within what the pages hold", () => {
    const pages = plan(30);
    expect(pageHonestly(pages, 30)).toEqual([1, 2, 3]);
    const grown = plan(30);
    grown.staged({ pageIndex: 1, records: 10, accepted: 10, newIds: 10 });
    grown.answered(2, { totalCount: 50, pageIndex: 2 });
    expect(drain(grown)).toEqual([2, 3, 4, 5]);
  });

  it("a single-customer run is one page whatever the metadata says", () => {
    const single = new PagePlan({ pageSize: 10, concurrency: 4, singleCustomer: true });
    single.answered(1, { totalCount: 500, pageIndex: 7 });
    single.staged({ pageIndex: 1, records: 0, accepted: 0, newIds: 0 });
    expect(single.next().done).toBe(true);
    expect(single.stopReason()).toBeUndefined();
  });
});

describe("the page plan's reason", () => {
  it("names the earliest page that ended the paging, whatever order answers came in", () => {
    const pages = plan(1_000_000_000, 100, 4);
    pages.staged({ pageIndex: 1, records: 3, accepted: 3, newIds: 3 });
    drain(pages);
    pages.staged({ pageIndex: 4, records: 0, accepted: 0, newIds: 0 });
    pages.staged({ pageIndex: 3, records: 0, accepted: 0, newIds: 0 });
    pages.staged({ pageIndex: 5, records: 0, accepted: 0, newIds: 0 });
    pages.staged({ pageIndex: 2, records: 0, accepted: 0, newIds: 0 });
    expect(pages.stopReason()).toMatch(/^page 2 came back empty/);
  });
});
