import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { forEachConcurrently, InFlightLimit, requestPool } from "../../src/sync/pool.ts";

/** Rejects when `signal` aborts, with an error of its own: a request that obeys its signal. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const stop = () => {
      reject(new Error("aborted", { cause: signal.reason }));
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop);
  });
}

describe("the request pool", () => {
  it("runs every item once, never more than `concurrency` at a time", async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    await forEachConcurrently([1, 2, 3, 4, 5, 6, 7].values(), { concurrency: 3 }, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await nextTurn();
      seen.push(item);
      running -= 1;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it("throws the first failure, not the aborts it caused, once every task has ended", async () => {
    let started = 0;
    let ended = 0;
    const run = forEachConcurrently(
      [1, 2, 3, 4].values(),
      { concurrency: 3 },
      async (item, signal) => {
        started += 1;
        try {
          if (item === 2) {
            await nextTurn();
            throw new Error("page 2 failed");
          }
          await untilAborted(signal);
        } finally {
          ended += 1;
        }
      },
    );
    await expect(run).rejects.toThrow("page 2 failed");
    // Item 4 is never started: the failure stopped the pool first.
    expect(started).toBe(3);
    expect(ended).toBe(3);
  });

  it("follows an iterator that grows while a task runs", async () => {
    const planned = [1];
    let next = 0;
    const plan: Iterator<number> = {
      next: () =>
        next < planned.length
          ? { done: false, value: planned[next++] ?? 0 }
          : { done: true, value: undefined },
    };
    const seen: number[] = [];
    await forEachConcurrently(plan, { concurrency: 2 }, async (item) => {
      await nextTurn();
      // Page 1 reports a larger total: two more pages, after the other worker found none.
      if (item === 1) planned.push(2, 3);
      seen.push(item);
    });
    expect(seen).toEqual([1, 2, 3]);
  });

  it("stops with the caller's reason when the caller's signal aborts", async () => {
    const shutdown = new AbortController();
    const run = forEachConcurrently(
      [1, 2, 3].values(),
      { concurrency: 2, signal: shutdown.signal },
      async (_item, signal) => {
        shutdown.abort(new Error("interrupted"));
        await untilAborted(signal);
      },
    );
    await expect(run).rejects.toThrow("interrupted");
  });

  it("refuses a concurrency below one", async () => {
    await expect(
      forEachConcurrently([1].values(), { concurrency: 0 }, () => Promise.resolve()),
    ).rejects.toThrow(RangeError);
  });
});

describe("a pass's requests (requestPool)", () => {
  it("keeps `concurrency` requests in flight while other workers hold the pages they got", async () => {
    const { pool, inFlight } = requestPool(2, undefined);
    let inFlightNow = 0;
    let most = 0;
    let requested = 0;
    // Every page is held after its request until four were asked for: with one worker per
    // request slot, the third request would wait for a page to be let go.
    let letGo!: () => void;
    const fourAsked = new Promise<void>((resolve) => (letGo = resolve));
    await forEachConcurrently([1, 2, 3, 4, 5, 6].values(), pool, async () => {
      const received = await inFlight.acquire();
      inFlightNow += 1;
      most = Math.max(most, inFlightNow);
      await nextTurn();
      inFlightNow -= 1;
      received();
      requested += 1;
      if (requested >= 4) letGo();
      await fourAsked;
    });
    expect(most).toBe(2);
    expect(requested).toBe(6);
  });

  it("hands slots over in order, once per release, and lets an aborted waiter leave the line", async () => {
    const limit = new InFlightLimit(1);
    const first = await limit.acquire();
    const order: string[] = [];
    const waiter = (name: string, signal?: AbortSignal) =>
      limit.acquire(signal).then((release) => {
        order.push(name);
        return release;
      });
    const leaving = new AbortController();
    const a = waiter("a");
    const gone = waiter("gone", leaving.signal);
    const b = waiter("b");
    leaving.abort(new Error("stopped"));
    await expect(gone).rejects.toThrow("stopped");
    first();
    first(); // a second release of the same slot frees nothing more
    const releaseA = await a;
    await nextTurn();
    expect(order).toEqual(["a"]);
    releaseA();
    (await b)();
    expect(order).toEqual(["a", "b"]);
    // Every slot back: one may be taken at once.
    const again = await limit.acquire();
    again();
  });
});
