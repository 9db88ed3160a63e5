// The long-running worker: runs the sync on the cron schedule (and once at start if asked),
// one run per fire across replicas, until its stop signal aborts; then it stops scheduling,
// lets the run in progress end (aborted: it records itself failed, "interrupted") and returns.
import { hostname } from "node:os";
import type { Database } from "../db.ts";
import type { ElementsClient } from "../elements/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { RunNotifier } from "../notify/notifier.ts";
import { RunInProgressError } from "../sync/lock.ts";
import { UnrecordedFailures } from "../sync/runs.ts";
import { runSync, type SyncOptions } from "../sync/sync.ts";
import { createFireCoordinator } from "./coordinator.ts";
import type { FireOutcome, WorkerMetrics } from "./metrics.ts";
import { SCHEDULE_TASK, startSchedule, type SkippedFire } from "./schedule.ts";

/** How `start` schedules runs and serves operators (SYNC_CRON, SYNC_TIMEZONE, SYNC_ON_START, HTTP_PORT). */
export interface WorkerConfig {
  /** node-cron expression: five fields, or six with seconds first. */
  cron: string;
  /** IANA time zone the expression is read in. */
  timezone: string;
  /** Also run once when the worker starts. */
  runOnStart: boolean;
  /** Port of /healthz and /metrics; 0 turns the HTTP server off. */
  httpPort: number;
  /** The address /healthz and /metrics listen on (HTTP_HOST); undefined: every interface. */
  httpHost: string | undefined;
}

export interface WorkerDependencies {
  db: Database;
  client: ElementsClient;
  log: Logger;
  metrics: WorkerMetrics;
  /** NOTIFY_WEBHOOK_URL: told after every run; never throws, ends within its own bound. */
  notifier?: RunNotifier;
}

/**
 * What every run of the worker is given, compiled once from the configuration; each fire
 * adds its time and the stop signal. maxDurationMs (SYNC_MAX_DURATION_MS) matters most
 * here: a run still going after it fails, so the next fire runs.
 */
export type WorkerRunOptions = Readonly<
  Omit<SyncOptions, "signal" | "scheduledFor" | "onStart" | "customerIds" | "allowMassRemoval">
>;

export interface WorkerOptions {
  schedule: WorkerConfig;
  run: WorkerRunOptions;
  /** Aborting it stops the worker and interrupts the run in progress. */
  signal: AbortSignal;
}

export interface Worker {
  /** The next scheduled fire; null once stopped. */
  nextFire(): Date | null;
  /** Settles when the stop signal has aborted and the run in progress has ended. */
  stopped: Promise<void>;
}

const SKIP_MESSAGES: Record<SkippedFire, string> = {
  overlap: "skipped a fire: this process is still running the previous one",
  "not-elected": "skipped a fire: another replica runs it",
  "coordinator-error": "skipped a fire: could not claim it in the database",
  missed: "missed a fire: the process was too busy to notice it in time",
};

export function startWorker(deps: WorkerDependencies, options: WorkerOptions): Worker {
  const { log, metrics } = deps;
  const { signal } = options;
  const inFlight = new Set<Promise<void>>();
  // A run that could not record its failure (the database was away) has it recorded by the next.
  const unrecordedFailures = new UnrecordedFailures();

  /** One run, never throwing: failures are recorded in sync_runs and logged. */
  /** A scheduled fire's run, or (`scheduledFor` undefined) the one SYNC_ON_START asks for. */
  async function run(scheduledFor: Date | undefined): Promise<FireOutcome> {
    try {
      const summary = await runSync(
        { db: deps.db, client: deps.client, log, unrecordedFailures },
        { ...options.run, signal, scheduledFor, onStart: scheduledFor === undefined },
      );
      metrics.recordRun(summary);
      await deps.notifier?.afterRun(summary, signal);
      return "ran";
    } catch (error) {
      // Refused by the run lock (a manual sync, or a replica still on an earlier fire),
      // or the database is down: the worker carries on with the next fire.
      const locked = error instanceof RunInProgressError;
      log.warn(
        { err: errorMessage(error), scheduledFor },
        locked ? "skipped a run: another run holds the database" : "run could not start",
      );
      return locked ? "locked" : "error";
    }
  }

  function track(pending: Promise<void>): Promise<void> {
    inFlight.add(pending);
    void pending.finally(() => inFlight.delete(pending));
    return pending;
  }

  const task = startSchedule({
    cron: options.schedule.cron,
    timezone: options.schedule.timezone,
    coordinator: createFireCoordinator(deps.db.pool, {
      task: SCHEDULE_TASK,
      owner: `${hostname()}:${process.pid}`,
    }),
    log,
    // A fire claimed while stopping is not started: stop() no longer waits for new runs.
    onFire: (fireAt) =>
      signal.aborted
        ? Promise.resolve()
        : track(
            run(fireAt).then((outcome) => {
              metrics.recordFire(outcome);
            }),
          ),
    onSkipped(fireAt, reason) {
      metrics.recordFire(reason);
      const level = reason === "not-elected" ? "debug" : "warn";
      log[level]({ fireAt, reason }, SKIP_MESSAGES[reason]);
    },
  });
  if (options.schedule.runOnStart) {
    void track(run(undefined).then(() => undefined));
  }

  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      void task.destroy();
      log.info({ runsInProgress: inFlight.size }, "worker stopping: no further fires");
      void Promise.allSettled([...inFlight]).then(() => {
        resolve();
      });
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });

  return {
    nextFire: () => (signal.aborted ? null : (task.getNextRun() ?? null)),
    stopped,
  };
}
