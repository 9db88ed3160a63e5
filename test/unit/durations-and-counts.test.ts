// Numbers people read: a run's duration rounds the same way in `status`, `report runs` and
// the sync summary, and a count of one is singular.
import { describe, expect, it } from "vitest";
import { formatRunSummary } from "../../src/cli/summary.ts";
import { renderTrendHtml } from "../../src/reporting/chart.ts";
import { formatDuration, plural } from "../../src/reporting/format.ts";
import { runsForPeople } from "../../src/reporting/reports.ts";
import type { RunRow } from "../../src/sql/reporting.ts";
import type { RunSummary } from "../../src/sync/sync.ts";

/** The `seconds` cell of report runs for a run the view says took `durationSeconds`. */
function reportCell(durationSeconds: string): unknown {
  const row = {
    started_at: "2026-12-01T10:00:00Z",
    finished_at: null,
    outcome: "complete",
    customer_filter: null,
    duration_seconds: durationSeconds,
  } as unknown as RunRow;
  return runsForPeople([row]).rows[0]?.[2];
}

describe("durations", () => {
  it.each([
    [49.4, "0.049", "0.0"],
    [49.7, "0.050", "0.1"],
    [50, "0.050", "0.1"],
    [1449.6, "1.450", "1.5"],
    [12_340, "12.340", "12.3"],
  ])("%f ms (the view: %s s) is %s s everywhere", (ms, viewSeconds, shown) => {
    expect(formatDuration(ms)).toBe(`${shown} s`);
    expect(formatDuration(Number(viewSeconds) * 1000)).toBe(`${shown} s`);
    expect(reportCell(viewSeconds)).toBe(shown);
    const summary = { status: "failed", runId: 1, durationMs: ms, error: "x" } as RunSummary;
    expect(formatRunSummary(summary)).toBe(`run 1 failed after ${shown} s: x`);
  });
});

describe("counts", () => {
  it("says 1 day, 2 days", () => {
    expect(plural(1, "day")).toBe("1 day");
    expect(plural(2, "day")).toBe("2 days");
    expect(plural(0, "latest change")).toBe("0 latest changes");
  });

  it("the chart of a single day says 1 day", () => {
    const html = renderTrendHtml({
      daily: [{ day: "2026-12-01", job_status: 1, job_status_label: "succeeded", customers: 3 }],
      changes: [],
      timeZone: "UTC",
      generatedAt: "2026-12-01T12:00:00Z",
    });
    expect(html).toContain("), 1 day. Generated");
  });
});
