// SIGTERM and SIGINT: the first one asks the process to stop (the returned signal aborts,
// in-flight requests with it) and starts a deadline; a second one, or the deadline, ends
// the process at once. A run cut short that way stays `running` in sync_runs and is
// marked abandoned by the next run.
import type { Logger } from "../logger.ts";

export interface ShutdownSignals {
  /** Aborted at the first SIGTERM or SIGINT. */
  signal: AbortSignal;
  /** Removes the handlers and the deadline. */
  dispose(): void;
}

/** Time from the first signal to a forced exit; container runtimes kill after 10 s. */
export const SHUTDOWN_GRACE_MS = 9_000;

/** Exit status when the process is ended before it could stop cleanly. */
const FORCED_EXIT = 1;

export function handleShutdownSignals(log: Logger, graceMs = SHUTDOWN_GRACE_MS): ShutdownSignals {
  const controller = new AbortController();
  let deadline: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.error({ signal }, "second signal: exiting at once");
      process.exit(FORCED_EXIT);
    }
    log.warn({ signal, graceMs }, `received ${signal}: stopping (send it again to exit at once)`);
    controller.abort(new Error(`received ${signal}`));
    deadline = setTimeout(() => {
      log.error({ graceMs }, "did not stop in time: exiting at once");
      process.exit(FORCED_EXIT);
    }, graceMs);
    deadline.unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      clearTimeout(deadline);
    },
  };
}
