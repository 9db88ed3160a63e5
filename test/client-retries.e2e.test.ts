// End to end: the client's retries (429 with Retry-After, 5xx, timeouts, resets, token
// refresh) in a real sync against the simulator over HTTP and a real PostgreSQL.
import { describe, expect, it } from "vitest";
import { harnessAt, openHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed, succeeded, syncOk } from "./support/runs.ts";

// Every scenario runs with pages fetched one at a time and eight at a time.
describe.each([1, 8])("client retries, %i page(s) at a time", (concurrency) => {
  const start = harnessAt(concurrency);

  it("waits out a 429's Retry-After, given in seconds or as an HTTP date", async () => {
    const h = await start();
    h.simulator.injectFault({ status: 429, retryAfter: "1", onPage: 2 });
    const notBefore = new Date(Date.now() + 3000).toUTCString();
    h.simulator.injectFault({ status: 429, retryAfter: notBefore, onPage: 3 });
    const run = await syncOk(h);
    expect(run.customersSeen).toBe(25);

    const page = (n: number) => h.simulator.requests.filter((r) => r.pageIndex === n);
    expect(page(2).map((r) => r.status)).toEqual([429, 200]);
    expect(page(3).map((r) => r.status)).toEqual([429, 200]);
    const [limited2, retried2] = page(2);
    expect((retried2?.at ?? 0) - (limited2?.at ?? 0)).toBeGreaterThanOrEqual(950);
    const [, retried3] = page(3);
    // Clocks are the same here, so "not before the date" can be checked exactly (to timer precision).
    expect(retried3?.at ?? 0).toBeGreaterThanOrEqual(Date.parse(notBefore) - 5);
  });

  it("fails at once when Retry-After asks for longer than the retry budget", async () => {
    const h = await start();
    h.simulator.injectFault({ status: 429, retryAfter: "3600", onPage: 2 });
    const run = await h.sync();
    expect(failed(run).error).toContain("asked to wait 3600 s");
    expect(h.simulator.requests.filter((r) => r.pageIndex === 2)).toHaveLength(1);
  });

  it("retries a burst of 5xx responses and succeeds", async () => {
    const h = await start();
    h.simulator.injectFault({ status: 503, onPage: 2, times: 2 });
    h.simulator.injectFault({ status: 500, onPage: 2 });
    await syncOk(h);
    expect(h.simulator.requests.filter((r) => r.pageIndex === 2).map((r) => r.status)).toEqual([
      503, 503, 500, 200,
    ]);
  });

  it("retries a request that times out", async () => {
    const harness = await openHarness({
      concurrency,
      customers: sampleCustomers(),
      pageSize: 10,
      timeoutMs: 300,
    });
    harness.simulator.injectFault({ delayMs: 1000, onPage: 2 });
    await syncOk(harness);
    // The simulator logs the slow request when it finally answers, after the client gave up:
    // a second after it came, however busy the machine (the test's own limit bounds the wait).
    await expect
      .poll(() => harness.simulator.requests.filter((r) => r.pageIndex === 2).length, {
        timeout: 30_000,
        interval: 50,
      })
      .toBe(2);
    const retried = harness.logs.filter(
      (line) => line.msg === "customers request failed; retrying",
    );
    expect(retried).toMatchObject([
      {
        pageIndex: 2,
        kind: "retry",
        err: expect.stringContaining("did not answer in time") as unknown,
      },
    ]);
  });

  it("retries a request whose connection is reset", async () => {
    const h = await start();
    h.simulator.injectFault({ reset: true, onPage: 3, times: 2 });
    await syncOk(h);
    expect(h.simulator.requests.filter((r) => r.pageIndex === 3).map((r) => r.status)).toEqual([
      0, 0, 200,
    ]);
    const retried = h.logs.filter((line) => line.msg === "customers request failed; retrying");
    expect(retried.map((line) => line.err)).toEqual([
      expect.stringContaining("Could not reach the Elements API"),
      expect.stringContaining("Could not reach the Elements API"),
    ]);
  });

  it("gives up after the attempt budget and fails the run", async () => {
    const h = await start();
    h.simulator.injectFault({ status: 502, onPage: 1, times: 50 });
    const run = await h.sync();
    expect(failed(run).error).toMatch(/502.*gave up after 5 attempts/);
    expect(h.simulator.requests.filter((r) => r.pageIndex === 1)).toHaveLength(5);
  });

  it("fetches a new token once when the API refuses an expired one mid-run", async () => {
    // Latency keeps the run going long enough for the test to step in after page 1.
    const h = await openHarness({
      concurrency,
      customers: sampleCustomers(25),
      pageSize: 5,
      simulator: { latencyMs: 50 },
    });
    const running = h.sync();
    // Expire every token as soon as the first page has been answered.
    while (!h.simulator.requests.some((r) => r.pageIndex === 1 && r.status === 200)) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    h.simulator.expireTokens();
    succeeded(await running);
    await expectInvariants(h.db);
    const statuses = h.simulator.requests.map((r) =>
      r.path === "/connect/token" ? "token" : r.status,
    );
    // Sequentially only the next request carries the expired token; concurrently, every
    // request already in flight does (pages 2 to 5), and they share one new token.
    const refused = statuses.filter((s) => s === 401).length;
    if (concurrency === 1) expect(refused).toBe(1);
    else expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(4);
    expect(statuses.filter((s) => s === "token")).toHaveLength(2);
    expect(statuses.at(-1)).toBe(200);
  });

  it("replaces a refused token even when no retry is left", async () => {
    const harness = await openHarness({
      concurrency,
      maxAttempts: 1,
    });
    await syncOk(harness);
    harness.simulator.expireTokens();
    await syncOk(harness);
  });

  it("waits out a 429 with Retry-After without spending the attempt budget", async () => {
    const harness = await openHarness({
      concurrency,
      maxAttempts: 2,
    });
    harness.simulator.injectFault({ status: 503, onPage: 2 });
    harness.simulator.injectFault({ status: 429, retryAfter: "1", onPage: 2 });
    await syncOk(harness);
    expect(
      harness.simulator.requests.filter((r) => r.pageIndex === 2).map((r) => r.status),
    ).toEqual([503, 429, 200]);
  });

  it("fails when Retry-After waits no longer fit in the retry budget", async () => {
    const harness = await openHarness({
      concurrency,
      maxRetryTimeMs: 1500,
    });
    harness.simulator.injectFault({ status: 429, retryAfter: "1", onPage: 2, times: 2 });
    const run = await harness.sync();
    expect(failed(run).error).toContain("longer than is left of ELEMENTS_MAX_RETRY_TIME_MS");
    expect(
      harness.simulator.requests.filter((r) => r.pageIndex === 2).map((r) => r.status),
    ).toEqual([429, 429]);
  });

  it("retries a failing identity service", async () => {
    const h = await start();
    h.simulator.injectFault({ endpoint: "token", status: 503, times: 2 });
    await syncOk(h);
    const tokenStatuses = h.simulator.requests
      .filter((r) => r.path === "/connect/token")
      .map((r) => r.status);
    expect(tokenStatuses).toEqual([503, 503, 200]);
  });
});
