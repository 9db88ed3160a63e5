// The worker pool of a run's requests, shared by fetching pages and looking customers up:
// a fixed number of workers, the first failure stopping the others, and nothing started
// here still running when it settles (so nothing writes to staging after a run failed).
import { checkedInteger } from "../values.ts";

export interface PoolOptions {
  concurrency: number;
  /** Aborting stops the pool as a failure does (a shutdown). */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `task` on each item of `items`, `concurrency` at a time. A worker takes the next
 * item when its task ends, so an iterator that grows meanwhile (a page reporting a larger
 * total) is followed while any worker still runs. The first failure aborts the signal
 * every task was given; once every task has ended, that failure is thrown, not the aborts
 * it caused.
 */
export async function forEachConcurrently<T>(
  items: Iterator<T>,
  options: PoolOptions,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const concurrency = checkedInteger("concurrency", options.concurrency, 1);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const worker = async () => {
    while (!signal.aborted) {
      const next = items.next();
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
