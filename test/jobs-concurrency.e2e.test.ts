// ELEMENTS_CONCURRENCY bounds the backup-job lookups (one request per customer): with every
// answer held back by the simulator's latency, as many lookups as it allows are in flight at
// once, and never more.
import { describe, expect, it } from "vitest";
import { JOBS_PATH } from "../src/elements/resources.ts";
import type { RequestLogEntry } from "../src/simulator/server.ts";
import { openHarness, sampleCustomers } from "./support/harness.ts";

const CONCURRENCY = 3;
const CUSTOMERS = 24;

/**
 * The most requests the simulator was serving at once of `requests`, each from its arrival
 * until its answer. The client holds each longer (it sends before the arrival and reads after
 * the answer), so this is never more than the client had in flight; with the latency holding
 * every answer back, requests the client sends together are all being served together.
 */
function mostAtOnce(
  requests: readonly RequestLogEntry[],
  answeredAt: ReadonlyMap<RequestLogEntry, number | undefined>,
): number {
  const events = requests.flatMap((request) => {
    const answered = answeredAt.get(request);
    if (answered === undefined) throw new Error(`no answer time for ${request.path}`);
    return [
      { at: request.at, change: 1 },
      { at: answered, change: -1 },
    ];
  });
  // At the same millisecond an answer goes first: a request the client sends after reading an
  // answer arrives no earlier than that answer was sent.
  events.sort((a, b) => a.at - b.at || a.change - b.change);
  let serving = 0;
  let most = 0;
  for (const { change } of events) {
    serving += change;
    most = Math.max(most, serving);
  }
  return most;
}

describe("job lookups", () => {
  it(`are at most ELEMENTS_CONCURRENCY (${CONCURRENCY}) in flight at once, and that many`, async () => {
    // The simulator logs each request right after entering it in its request log, before
    // the answer is written: the time of the i-th line is the i-th request's answer time.
    const answerTimes: number[] = [];
    const h = await openHarness({
      customers: sampleCustomers(CUSTOMERS),
      resources: ["customers", "services", "jobs"],
      concurrency: CONCURRENCY,
      simulator: { latencyMs: 30, log: () => answerTimes.push(Date.now()) },
    });
    const run = await h.sync();
    expect(run).toMatchObject({ status: "succeeded", complete: true });
    const [beforeId = "", afterId = ""] = JOBS_PATH.split("{customerId}");
    const lookups = h.simulator.requests.filter(
      (request) => request.path.startsWith(`/${beforeId}`) && request.path.endsWith(afterId),
    );
    // One lookup (at least) for every customer: enough to fill the pool many times over.
    expect(lookups.length).toBeGreaterThanOrEqual(CUSTOMERS);
    expect(lookups.every((request) => request.status === 200)).toBe(true);
    expect(answerTimes).toHaveLength(h.simulator.requests.length);
    const answeredAt = new Map(h.simulator.requests.map((request, i) => [request, answerTimes[i]]));
    const most = mostAtOnce(lookups, answeredAt);
    expect(most).toBeGreaterThan(1);
    expect(most).toBe(CONCURRENCY);
  });
});
