// One read for everyone who asks while it runs (the operator endpoints, http.ts).

/**
 * `read` run once for all who ask while it runs: a flood of requests makes one read at a
 * time, and each answer is as fresh as the read it waited for.
 */
export function singleFlight<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () =>
    (inFlight ??= read().finally(() => {
      inFlight = undefined;
    }));
}
