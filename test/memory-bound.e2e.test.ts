// Memory is bounded by settings, not by the server: the response cap (ELEMENTS_MAX_RESPONSE_BYTES)
// times the pages a run holds at once must fit the heap, and a page larger than the cap is
// refused unread. Before, a 40 MiB page of small objects made a worker with a 256 MiB heap
// abort out of memory (SIGABRT) and left its run `running`.
import { afterEach, describe, expect, it } from "vitest";
import { runCli, simulatorEnv } from "./support/cli.ts";
import { createHarness, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** A worker process whose heap is small, as on a tight container. */
const SMALL_HEAP = { NODE_OPTIONS: "--max-old-space-size=256" };

/** A page of `bytes` of small objects: the worst case of heap per byte once parsed. */
function hugePage(bytes: number): string {
  const record = '{"id":"x"},';
  const records = record.repeat(Math.ceil(bytes / record.length)).slice(0, -1);
  return `{"data":[${records}],"metadata":{"pageIndex":1,"pageSize":100,"totalCount":1}}`;
}

describe("memory bounded by settings", () => {
  it("refuses a 40 MiB page to a worker with a 256 MiB heap: a failed run, no crash", async () => {
    const h = (harness = await createHarness());
    const page = hugePage(40 * 1024 * 1024);
    h.simulator.injectFault({ status: 200, body: page, onPage: 1 });
    const env = {
      ...simulatorEnv(h.db.url, h.simulator.url),
      ...SMALL_HEAP,
      // The default of 4 would not fit this heap with the default cap (next test).
      ELEMENTS_CONCURRENCY: "1",
    };
    const result = await runCli(["sync", "--no-migrate"], env);
    expect(result.stderr).not.toMatch(/out of memory|FATAL ERROR|Abort/i);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(
      /The Elements API sent a response body of \d+ bytes, more than ELEMENTS_MAX_RESPONSE_BYTES \(2097152 bytes\) allows\./,
    );
    const runs = await h.db.query<{ status: string; error: string }>(
      "SELECT status, error FROM sync_runs",
    );
    expect(runs).toEqual([
      { status: "failed", error: expect.stringMatching(/ELEMENTS_MAX_RESPONSE_BYTES/) as string },
    ]);
    expect(await h.db.query("SELECT id FROM customers")).toEqual([]);
    await expectInvariants(h.db);
  });

  it("refuses settings whose pages could outgrow the heap, before any run", async () => {
    const h = (harness = await createHarness());
    const env = { ...simulatorEnv(h.db.url, h.simulator.url), ...SMALL_HEAP };
    const result = await runCli(["sync", "--no-migrate"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /ELEMENTS_MAX_RESPONSE_BYTES \(2097152 bytes\) × 13 pages a run may hold at once \(ELEMENTS_CONCURRENCY 4\) could take 624 MiB of heap once parsed, more than the \d+ MiB this process allows them \(two thirds of its heap\)\. Lower ELEMENTS_MAX_RESPONSE_BYTES or ELEMENTS_CONCURRENCY, or give Node a larger heap \(--max-old-space-size\)\./,
    );
    expect(h.simulator.requests).toEqual([]);
    expect(await h.db.query("SELECT id FROM sync_runs")).toEqual([]);
  });
});
