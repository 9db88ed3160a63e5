import { describe, expect, it } from "vitest";
import { describeHttpFailure } from "../../src/elements/errors.ts";
import { RequestGate } from "../../src/elements/gate.ts";
import { classifyStatus, parseRetryAfter } from "../../src/elements/retry.ts";

describe("retry classification", () => {
  it.each([
    [200, "ok"],
    [204, "ok"],
    [400, "fatal"],
    [401, "unauthorized"],
    [403, "fatal"],
    [404, "fatal"],
    [408, "retry"],
    [409, "fatal"],
    [429, "rate-limited"],
    [500, "retry"],
    [502, "retry"],
    [503, "retry"],
    [504, "retry"],
  ])("%i is %s", (status, kind) => {
    expect(classifyStatus(status)).toBe(kind);
  });

  it("names the missing permission on 403", () => {
    expect(describeHttpFailure(403, "")).toContain("elements.customers.read.all");
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2026-11-24T10:00:00Z");

  it("reads delay-seconds", () => {
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter(" 7 ", now)).toBe(7000);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Tue, 24 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Tue, 24 Nov 2026 09:59:00 GMT", now)).toBe(0);
  });

  it("ignores what it cannot read", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-3", now)).toBeUndefined();
  });
});

describe("RequestGate", () => {
  it("holds every waiter until the longest pause has passed", async () => {
    let clock = 0;
    const gate = new RequestGate(() => clock);
    gate.pauseFor(30);
    gate.pauseFor(10); // a shorter pause never shortens the current one
    const waited: number[] = [];
    const waiters = [gate.wait(), gate.wait()].map((p) => p.then(() => waited.push(clock)));
    clock = 30;
    await Promise.all(waiters);
    expect(waited).toEqual([30, 30]);
  });

  it("lets requests through at once when not paused", async () => {
    const gate = new RequestGate(() => 0);
    await expect(gate.wait()).resolves.toBeUndefined();
  });
});

describe("RequestGate pacing", () => {
  async function acquireAll(gate: RequestGate, n: number) {
    return Promise.all(Array.from({ length: n }, () => gate.acquire()));
  }

  it("sets no limit of its own until a request is throttled", async () => {
    const gate = new RequestGate(() => 0);
    const slots = await acquireAll(gate, 20);
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
    for (const slot of slots) slot.release("ok");
    expect(gate.limit).toBe(Number.POSITIVE_INFINITY);
  });

  it("halves the requests in flight once for requests throttled together", async () => {
    const gate = new RequestGate(() => 0);
    const slots = await acquireAll(gate, 8);
    for (const slot of slots.slice(0, 3)) slot.release("throttled");
    expect(gate.limit).toBe(4);
    // The others were sent before the decrease: their answers change nothing.
    for (const slot of slots.slice(3)) slot.release("ok");
    expect(gate.limit).toBe(4);
  });

  it("holds requests beyond the limit until a slot is released, then grows by one per round", async () => {
    const gate = new RequestGate(() => 0);
    const [throttled, ...others] = await acquireAll(gate, 4);
    throttled?.release("throttled");
    for (const slot of others) slot.release("other");
    expect(gate.limit).toBe(2);
    const [a, b] = await acquireAll(gate, 2);
    let third = false;
    const pending = gate.acquire().then((slot) => {
      third = true;
      return slot;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(third).toBe(false);
    a?.release("ok");
    const c = await pending;
    expect(third).toBe(true);
    b?.release("ok");
    expect(gate.limit).toBe(3);
    c.release("ok");
  });

  it("never goes below one request in flight", async () => {
    const gate = new RequestGate(() => 0);
    for (let i = 0; i < 5; i++) (await gate.acquire()).release("throttled");
    expect(gate.limit).toBe(1);
  });

  it("stops waiting when the signal aborts", async () => {
    const gate = new RequestGate(() => 0);
    (await gate.acquire()).release("throttled");
    const held = await gate.acquire();
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    controller.abort(new Error("stopped"));
    await expect(waiting).rejects.toThrow("stopped");
    held.release("ok");
  });
});
