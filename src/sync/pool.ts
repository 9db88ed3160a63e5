// The worker pool of a run's requests, shared by fetching pages and looking customers up:
// a fixed number of workers, the first failure stopping the others, and nothing started
// here still running when it settles (so nothing is added to a run's pipeline after it failed).
import { WORKERS_PER_REQUEST } from "../elements/body.ts";
import type { InFlightSlots } from "../elements/gate.ts";
import { checkedInteger } from "../values.ts";

/**
 * What the pool's workers take work from: an Iterator, whose next() may answer with a
 * promise instead: nothing to hand out yet, ask again once it resolves.
 */
export interface WorkSource<T> {
  next(): IteratorResult<T, undefined> | Promise<void>;
}

export interface PoolOptions {
  concurrency: number;
  /** Aborting stops the pool as a failure does (a shutdown). */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `task` on each item of `items`, `concurrency` at a time. A worker takes the next
 * item when its task ends, so a source that grows meanwhile (a page reporting a larger
 * total) is followed while any worker still runs; one that answers with a promise holds
 * the worker until it resolves (then it asks again) or the pool stops. The first failure aborts the signal
 * every task was given; once every task has ended, that failure is thrown, not the aborts
 * it caused.
 */
export async function forEachConcurrently<T>(
  items: WorkSource<T>,
  options: PoolOptions,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const concurrency = checkedInteger("concurrency", options.concurrency, 1);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const worker = async () => {
    while (!signal.aborted) {
      let next = items.next();
      while (next instanceof Promise) {
        await untilAborted(next, signal);
        next = items.next();
      }
      if (next.done === true) return;
      await task(next.value, signal);
    }
  };
  const workers = Array.from({ length: concurrency }, () =>
    worker().catch((error: unknown) => {
      stop.abort(error);
    }),
  );
  await Promise.all(workers);
  // The reason of whichever came first: the first failure, or the caller's abort.
  signal.throwIfAborted();
}

/** `value`, or a rejection with the signal's reason should it abort before `value` settles. */
function untilAborted(value: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    value.then(resolve, reject).finally(() => {
      signal.removeEventListener("abort", onAbort);
    });
  });
}

/**
 * At most `limit` requests in flight, the others waiting their turn in order. The client
 * takes a slot for each attempt and gives it back once the answer's body has arrived
 * (InFlightSlots), so a pool of more workers than slots keeps every slot busy while a
 * worker parses, checks and queues the page it just got.
 */
export class InFlightLimit implements InFlightSlots {
  readonly #limit: number;
  #inFlight = 0;
  readonly #queue: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = checkedInteger("concurrency", limit, 1);
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#inFlight < this.#limit) this.#inFlight += 1;
    else await this.#turn(signal);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next in line, if any.
      const next = this.#queue.shift();
      if (next) next();
      else this.#inFlight -= 1;
    };
  }

  /** Resolves when a released slot is handed over; rejects, leaving the line, if `signal` aborts first. */
  #turn(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#queue.indexOf(take);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(signal?.reason as Error);
      };
      const take = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#queue.push(take);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/**
 * A pass's pool and the limit its requests share: `concurrency` requests in flight at most
 * (ELEMENTS_CONCURRENCY, what the API is promised), each worker handing `inFlight` to its
 * requests as their `slots`, while the others check, queue or merge what came.
 */
export function requestPool(concurrency: number, signal: AbortSignal | undefined) {
  return {
    pool: { concurrency: concurrency * WORKERS_PER_REQUEST, signal },
    inFlight: new InFlightLimit(concurrency),
  };
}
