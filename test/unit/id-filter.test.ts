// When an answer to a filtered request may be the filtered answer, and what is sent.
import { describe, expect, it } from "vitest";
import { filterBody, judgeFilteredPage } from "../../src/elements/id-filter.ts";

const page = (ids: unknown[], totalCount: number) => ({
  data: ids.map((id) => ({ id })),
  metadata: { totalCount },
});
const asked = new Set(["a", "b", "c"]);

describe("judgeFilteredPage", () => {
  it("may be filtered when every record was asked for and totalCount fits in the ids", () => {
    expect(judgeFilteredPage(page(["a", "c"], 2), asked)).toEqual({
      kind: "filtered",
      totalCount: 2,
      ids: ["a", "c"],
    });
    expect(judgeFilteredPage(page([], 0), asked)).toEqual({
      kind: "filtered",
      totalCount: 0,
      ids: [],
    });
  });

  it("was ignored when a record was not asked for, or has no id", () => {
    expect(judgeFilteredPage(page(["a", "z"], 2), asked)).toEqual({ kind: "ignored" });
    expect(judgeFilteredPage(page(["a", 7], 2), asked)).toEqual({ kind: "ignored" });
    expect(judgeFilteredPage({ data: ["a"], metadata: { totalCount: 1 } }, asked)).toEqual({
      kind: "ignored",
    });
  });

  it("was ignored when totalCount is more than the ids asked, whatever the records", () => {
    // Page 1 of a big list whose records happen to be among the ids.
    expect(judgeFilteredPage(page(["a", "b"], 4), asked)).toEqual({ kind: "ignored" });
  });
});

describe("filterBody", () => {
  it("sends exactly one field, never both", () => {
    expect(filterBody(undefined)).toEqual({});
    expect(filterBody({ form: "customerIds", ids: ["a", "b"] })).toEqual({
      customerIds: ["a", "b"],
    });
    expect(filterBody({ form: "customerId", id: "a" })).toEqual({ customerId: "a" });
  });
});
