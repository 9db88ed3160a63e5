import { describe, expect, it } from "vitest";
import { effectivePageSize, pageCount } from "../../src/elements/paging.ts";
import { judgeCompleteness } from "../../src/sync/completeness.ts";

describe("paging plan", () => {
  it.each([
    [0, 100, 1],
    [1, 100, 1],
    [100, 100, 1],
    [101, 100, 2],
    [250, 100, 3],
    [100_000, 100, 1000],
    [7, 3, 3],
  ])("%i customers at %i per page take %i page(s)", (total, size, pages) => {
    expect(pageCount(total, size)).toBe(pages);
  });

  it("plans with the page size the server reports when it serves fewer than asked", () => {
    expect(effectivePageSize(100, 50)).toBe(50);
    expect(effectivePageSize(100, 100)).toBe(100);
    expect(effectivePageSize(50, 100)).toBe(50);
    expect(effectivePageSize(100, null)).toBe(100);
    expect(effectivePageSize(100, undefined)).toBe(100);
  });
});

describe("completeness", () => {
  const base = {
    customerFilter: null,
    totalCounts: new Set([10]),
    distinctCustomers: 10,
    rejectedRecords: 0,
    pagingStopped: null,
  };

  it("is complete only with every customer seen, nothing rejected and a steady total", () => {
    expect(judgeCompleteness(base)).toEqual({ complete: true, reason: null });
    expect(judgeCompleteness({ ...base, totalCounts: new Set([0]), distinctCustomers: 0 })).toEqual(
      { complete: true, reason: null },
    );
  });

  it("names why a run is incomplete", () => {
    expect(judgeCompleteness({ ...base, distinctCustomers: 9 })).toEqual({
      complete: false,
      reason: "saw 9 of 10 customers",
    });
    expect(judgeCompleteness({ ...base, rejectedRecords: 1 })).toEqual({
      complete: false,
      reason: "1 record(s) rejected",
    });
    expect(judgeCompleteness({ ...base, totalCounts: new Set([10, 11]) })).toEqual({
      complete: false,
      reason: "totalCount changed during the run (10 → 11)",
    });
    expect(
      judgeCompleteness({ ...base, distinctCustomers: 3, pagingStopped: "page 2 came back empty" }),
    ).toEqual({ complete: false, reason: "paging stopped early: page 2 came back empty" });
    expect(judgeCompleteness({ ...base, customerFilter: ["abc"] })).toEqual({
      complete: false,
      reason: "single-customer run (abc)",
    });
    expect(judgeCompleteness({ ...base, customerFilter: ["abc", "def"] })).toEqual({
      complete: false,
      reason: "run of 2 named customers (abc, def)",
    });
  });
});
