// Memory is bounded by settings, not by the server: the response cap (ELEMENTS_MAX_RESPONSE_BYTES)
// times the pages a run holds at once must fit the heap, and a page larger than the cap is
// refused unread. Before, a 40 MiB page of small objects made a worker with a 256 MiB heap
// abort out of memory (SIGABRT) and left its run `running`. The check counts on the run's
// pipeline holding at most queuedBytesBudget bytes of pages, however few customers they hold.
import { describe, expect, it } from "vitest";
import { queuedBytesBudget } from "../src/elements/body.ts";
import { runCli, simulatorEnv } from "./support/cli.ts";
import { openHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { syncOk } from "./support/runs.ts";

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
    const h = await openHarness();
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
    const h = await openHarness();
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

describe("the pipeline's bound in bytes", () => {
  it("merges before a batch is full when a few huge records a page reach the byte budget", async () => {
    // Two records of ~20 KB a page, a 64 KiB cap and two pages in flight: the budget is
    // 3 pages at the cap (192 KiB; the four workers hold the others), the run's pages 800 KB; the customer bound (about
    // 2 × minMergeBatch) would let all forty be held.
    const maxResponseBytes = 64 * 1024;
    const concurrency = 2;
    const blob = "x".repeat(20_000);
    const customers = sampleCustomers(40).map((customer) => ({ ...customer, blob }));
    const h = await openHarness({ customers, pageSize: 2, concurrency, maxResponseBytes });
    const run = await syncOk(h, { minMergeBatch: 1000 });
    expect(run).toMatchObject({ complete: true, customersAdded: 40, newFields: ["blob"] });

    const budget = queuedBytesBudget(maxResponseBytes, concurrency);
    expect(budget).toBe(3 * maxResponseBytes);
    const batches = h.logs.filter(
      (line) => line.runId === run.runId && line.msg === "batch merged",
    );
    const merged = batches.map((line) => ({
      customers: Number(line.customers),
      bytes: Number(line.bytes),
      peakHeldBytes: Number(line.peakHeldBytes),
      byteBudget: Number(line.byteBudget),
    }));
    // The pages' bytes would not have fitted at once; held, they never passed the budget.
    const total = merged.reduce((sum, batch) => sum + batch.bytes, 0);
    expect(total).toBeGreaterThan(2 * budget);
    expect(merged.length).toBeGreaterThanOrEqual(3);
    for (const batch of merged) {
      expect(batch).toMatchObject({ byteBudget: budget });
      expect(batch.customers).toBeGreaterThan(0);
      expect(batch.customers).toBeLessThan(1000);
      expect(batch.peakHeldBytes).toBeLessThanOrEqual(budget);
    }
    expect(merged.reduce((sum, batch) => sum + batch.customers, 0)).toBe(40);

    const stored = await h.db.query<{ id: string; blob: number; status: number }>(
      `SELECT id, length(source_record ->> 'blob') AS blob, job_status AS status
       FROM customers ORDER BY id`,
    );
    expect(stored).toEqual(
      customers
        .map((customer) => ({ id: customer.id, blob: blob.length, status: customer.jobStatus }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
  });
});
