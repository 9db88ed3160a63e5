// The worker pool of a run's requests, shared by fetching pages and looking customers up:
// a fixed number of workers, the first failure stopping the others, and nothing started
// here still running when it settles (so nothing is added to a run's pipeline after it failed).
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
