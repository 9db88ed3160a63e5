// SYNC_MAX_DURATION_MS: a run still going after this long is stopped the way a shutdown
// stops it (every request aborted, nothing merged), so no run, however stuck, holds the
// lock that later runs need.
import { SyncError } from "../errors.ts";

export interface RunCeiling {
  /** Aborts once the run has gone on for the ceiling's time. */
  signal: AbortSignal;
  /** The failure to record when the ceiling stopped the run. */
  reason: string;
  /** Call when the run ends, however it ends. */
  clear(): void;
}

export function startRunCeiling(maxDurationMs: number): RunCeiling {
  const reason =
    `the run went on longer than SYNC_MAX_DURATION_MS (${maxDurationMs} ms) and was stopped; ` +
    "nothing merged";
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new SyncError(reason));
  }, maxDurationMs);
  return {
    signal: controller.signal,
    reason,
    clear: () => {
      clearTimeout(timer);
    },
  };
}
