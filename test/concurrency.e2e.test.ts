// End to end: fetching pages concurrently. A 429 holds back every worker, the pace drops
// after throttling, a fatal answer stops the other requests, and a growing totalCount
// makes the run fetch the extra pages (and end incomplete).
import { describe, expect, it } from "vitest";
import { CUSTOMERS_PATH } from "../src/elements/resources.ts";
import type { RequestLogEntry } from "../src/simulator/server.ts";
import { openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed } from "./support/runs.ts";

const LATENCY_MS = 40;

function customerRequests(h: Harness): RequestLogEntry[] {
  return h.simulator.requests
    .filter((r) => r.path === `/${CUSTOMERS_PATH}`)
    .sort((a, b) => a.at - b.at);
}

describe("concurrent fetching", () => {
  it("pauses every worker until a 429's Retry-After has passed, then slows down", async () => {
    const h = await openHarness({
      customers: sampleCustomers(200),
      pageSize: 5,
      concurrency: 4,
      simulator: { latencyMs: LATENCY_MS },
    });
    h.simulator.injectFault({ status: 429, retryAfter: "2", onPage: 6 });
    const run = await h.sync();
    expect(run).toMatchObject({ status: "succeeded", complete: true, customersSeen: 200 });
    await expectInvariants(h.db);

    const requests = customerRequests(h);
    const limited = requests.find((r) => r.status === 429);
    if (!limited) throw new Error("the 429 was not served");
    // The simulator answers after its latency, so the 429 left it no earlier than this.
    const answered = limited.at + LATENCY_MS;
    const pauseEnd = answered + 2000;
    // Requests that arrive after the 429 was answered were sent after it, except the few a
    // worker may have sent before the client read the 429 (at most one per other worker).
    const during = requests.filter((r) => r.at >= answered && r.at < pauseEnd - 5);
    expect(during.length).toBeLessThanOrEqual(3);
    expect(during.every((r) => r.at < answered + 250)).toBe(true);
    const after = requests.filter((r) => r.at >= pauseEnd - 5);
    expect(after.length).toBeGreaterThan(10);
    // After the pause the limit is halved to 2: a third request is only sent once one of the
    // first two has been answered, which is at least LATENCY_MS after it arrived.
    const [first, second, third] = after;
    if (!first || !second || !third) throw new Error("unreachable");
    expect(third.at).toBeGreaterThanOrEqual(Math.min(first.at, second.at) + LATENCY_MS);
    expect(requests.filter((r) => r.pageIndex === 6).map((r) => r.status)).toEqual([429, 200]);
  });

  it("stops the other requests when one fails for good", async () => {
    const h = await openHarness({
      customers: sampleCustomers(200),
      pageSize: 5,
      concurrency: 4,
    });
    // Pages 3 to 5 are still being answered when page 2 is refused.
    for (const onPage of [3, 4, 5]) h.simulator.injectFault({ delayMs: 10_000, onPage });
    h.simulator.injectFault({ status: 403, onPage: 2 });
    const started = Date.now();
    const run = await h.sync();
    expect(run).toMatchObject({ status: "failed", pagesFetched: 1, customersSeen: 5 });
    expect(failed(run).error).toContain("elements.customers.read.all");
    expect(Date.now() - started).toBeLessThan(9_000);
    const asked = new Set(customerRequests(h).map((r) => r.pageIndex));
    expect([...asked].every((page) => page !== undefined && page <= 5)).toBe(true);
    expect(await h.db.query("SELECT count(*)::int AS n FROM customers")).toEqual([{ n: 0 }]);
  });

  it("fetches the extra pages when a page reports a larger total, and ends incomplete", async () => {
    const customers = sampleCustomers(32);
    const h = await openHarness({ customers, pageSize: 5, concurrency: 3 });
    // Page 1 says there are 20 customers (4 pages); the later pages say 32: the plan grows
    // to 7 pages. Every page holds customers, so no stop rule can end the paging first,
    // whatever order the answers come in.
    h.simulator.injectFault({
      status: 200,
      onPage: 1,
      body: JSON.stringify({
        data: customers.slice(0, 5),
        metadata: { pageIndex: 1, pageSize: 5, totalCount: 20 },
      }),
    });
    const run = await h.sync();
    expect(run).toMatchObject({
      status: "succeeded",
      complete: false,
      incompleteReason: expect.stringContaining("totalCount changed during the run") as string,
      customersSeen: 32,
    });
    const pages = customerRequests(h).map((r) => r.pageIndex);
    expect(new Set(pages)).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
    await expectInvariants(h.db);
  });
});
