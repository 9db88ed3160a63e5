// The cron schedule of the worker: node-cron 4 with noOverlap (a fire that comes while this
// process is still running the previous one is skipped) and distributed mode (one replica
// runs each fire, chosen by the RunCoordinator).
import { createTask, type RunCoordinator, type ScheduledTask } from "node-cron";
import type { Logger } from "../logger.ts";

/** The node-cron task name; part of every coordination key, so all replicas must agree. */
export const SCHEDULE_TASK = "elements-sync";

/** Why a fire did not start a run in this process. */
export type SkippedFire = "overlap" | "not-elected" | "coordinator-error" | "missed";

export interface ScheduleOptions {
  cron: string;
  timezone: string;
  coordinator: RunCoordinator;
  log: Logger;
  /** Runs the sync for one fire; must not throw. */
  onFire(fireAt: Date): Promise<void>;
  onSkipped(fireAt: Date, reason: SkippedFire): void;
}

/**
 * A fire is run as long as this process notices it within this time (node-cron's default
 * of one second would silently drop a nightly run whenever the event loop is busy).
 */
const MISSED_FIRE_TOLERANCE_MS = 60_000;

export function startSchedule(options: ScheduleOptions): ScheduledTask {
  const { log } = options;
  const task = createTask(options.cron, (context) => options.onFire(context.date), {
    name: SCHEDULE_TASK,
    timezone: options.timezone,
    noOverlap: true,
    distributed: true,
    runCoordinator: options.coordinator,
    missedExecutionTolerance: MISSED_FIRE_TOLERANCE_MS,
    logger: {
      info: (message) => {
        log.debug(`node-cron: ${message}`);
      },
      warn: (message) => {
        log.debug(`node-cron: ${message}`);
      },
      error: (message, err) => {
        log.error({ err: String(err ?? message) }, `node-cron: ${String(message)}`);
      },
      debug: (message) => {
        log.debug(`node-cron: ${String(message)}`);
      },
    },
  });
  task.on("execution:overlap", (context) => {
    options.onSkipped(context.date, "overlap");
  });
  task.on("execution:skipped", (context) => {
    options.onSkipped(context.date, context.reason ?? "not-elected");
  });
  task.on("execution:missed", (context) => {
    options.onSkipped(context.date, "missed");
  });
  void task.start();
  return task;
}

/** When the expression fires next, read in the time zone. */
export function nextFire(expression: string, timezone: string): Date | undefined {
  const probe = createTask(expression, () => undefined, { timezone });
  try {
    return probe.getNextRuns(1)[0];
  } finally {
    void probe.destroy();
  }
}
