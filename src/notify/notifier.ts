// After a run: decides whether it is one NOTIFY_ON asks about, gathers the customers it
// moved into a watched job status, the backup jobs it saw turn failing and the subscriptions
// that entered an expiry window, and posts one notification. It never throws and ends
// within the delivery limits: a notification is worth less than the next run.
import type pg from "pg";
import { codeLabel } from "../elements/codes.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  readExpiringServices,
  readFailedJobs,
  readWatchedChanges,
  type WatchedChanges,
} from "../sql/notifications.ts";
import { INTERRUPTED } from "../sync/runs.ts";
import type { RunSummary } from "../sync/sync.ts";
import { bodyFormat, type NotifyFormat } from "./format.ts";
import { triggerReason, type NotifyTrigger } from "./triggers.ts";
import {
  MAX_LISTED_CHANGES,
  webhookBody,
  type NotifyReason,
  type RunNotification,
} from "./message.ts";
import {
  DEFAULT_DELIVERY_LIMITS,
  DeliveryError,
  postJson,
  type DeliveryLimits,
} from "./webhook.ts";

/** Where notifications go (NOTIFY_WEBHOOK_URL) and which runs send one (NOTIFY_ON). */
export interface NotifyConfig {
  webhookUrl: string;
  triggers: NotifyTrigger[];
  /** The body's format (NOTIFY_FORMAT); `auto` decides by the webhook's host. */
  format: NotifyFormat;
}

export type NotificationResult = "sent" | "failed";

export interface RunNotifier {
  /** Call once a run has ended; `signal` (the stop signal) cuts a delivery short. */
  afterRun(summary: RunSummary, signal?: AbortSignal): Promise<void>;
}

export interface NotifierDependencies {
  /** Undefined when NOTIFY_WEBHOOK_URL is unset: afterRun does nothing. */
  config: NotifyConfig | undefined;
  pool: pg.Pool;
  log: Logger;
  /** Counts each notification's fate (the worker's elements_sync_notifications_total). */
  onResult?: (result: NotificationResult) => void;
  limits?: DeliveryLimits;
}

export function createRunNotifier(deps: NotifierDependencies): RunNotifier {
  const { config } = deps;
  if (config === undefined) return { afterRun: () => Promise.resolve() };
  const limits = deps.limits ?? DEFAULT_DELIVERY_LIMITS;
  const watched = config.triggers.flatMap((t) => (t.kind === "status" ? [t.jobStatus] : []));
  const jobsWatched = config.triggers.some((t) => t.kind === "job-failed");
  const windows = [
    ...new Set(config.triggers.flatMap((t) => (t.kind === "service-expiring" ? [t.days] : []))),
  ].sort((a, b) => a - b);

  return {
    async afterRun(summary, signal) {
      // A run stopped by SIGTERM or Ctrl-C was stopped on purpose.
      if (summary.status === "failed" && summary.error === INTERRUPTED) return;
      const log = deps.log.child({ runId: summary.runId });
      const started = performance.now();
      try {
        const found =
          summary.status === "succeeded"
            ? await withinLimit(
                readRunFindings(deps.pool, summary.runId, { watched, jobsWatched, windows }),
                limits,
                signal,
              )
            : NO_FINDINGS;
        const reasons = matchingReasons(config.triggers, summary, found);
        if (reasons.length === 0) return;
        const body = webhookBody(
          {
            reasons,
            summary,
            changes: found.changes.listed,
            changesTotal: found.changes.total,
            failedJobs: found.failedJobs,
            expiringServices: found.expiringServices,
          },
          bodyFormat(config.format, config.webhookUrl),
        );
        const remaining = Math.max(
          1,
          Math.floor(limits.totalTimeoutMs - (performance.now() - started)),
        );
        await postJson(config.webhookUrl, body, { ...limits, totalTimeoutMs: remaining }, signal);
        log.info({ reasons }, "sent the run notification");
        deps.onResult?.("sent");
      } catch (error) {
        // errorMessage of a DeliveryError or a database error never holds the webhook URL.
        const reason = error instanceof DeliveryError ? error.message : errorMessage(error);
        log.warn({ err: reason }, "could not send the run notification");
        deps.onResult?.("failed");
      }
    },
  };
}

/** What the run's notification lists: all of it read only for the triggers that ask. */
type Findings = Pick<RunNotification, "failedJobs" | "expiringServices"> & {
  changes: WatchedChanges;
};

const NO_CHANGES: WatchedChanges = { listed: [], total: 0, jobStatuses: [] };
const NO_FINDINGS: Findings = {
  changes: NO_CHANGES,
  failedJobs: { listed: [], total: 0 },
  expiringServices: [],
};

/** One statement per trigger kind NOTIFY_ON names (and per expiry window). */
async function readRunFindings(
  db: pg.Pool,
  runId: number,
  asked: { watched: number[]; jobsWatched: boolean; windows: number[] },
): Promise<Findings> {
  const limit = MAX_LISTED_CHANGES;
  const changes =
    asked.watched.length > 0
      ? await readWatchedChanges(db, { runId, jobStatuses: asked.watched, limit })
      : NO_CHANGES;
  const failedJobs = asked.jobsWatched
    ? await readFailedJobs(db, { runId, limit })
    : NO_FINDINGS.failedJobs;
  const expiringServices = [];
  for (const days of asked.windows) {
    expiringServices.push({ days, ...(await readExpiringServices(db, { runId, days, limit })) });
  }
  return { changes, failedJobs, expiringServices };
}

function matchingReasons(
  triggers: readonly NotifyTrigger[],
  summary: RunSummary,
  found: Findings,
): NotifyReason[] {
  const reasons: NotifyReason[] = [];
  for (const trigger of triggers) {
    if (trigger.kind === "failed" && summary.status === "failed") reasons.push("failed");
    if (trigger.kind === "warning" && summary.status === "succeeded" && summary.warning !== null) {
      reasons.push("warning");
    }
    if (trigger.kind === "status" && found.changes.jobStatuses.includes(trigger.jobStatus)) {
      reasons.push(triggerReason(trigger, codeLabel("jobStatus", trigger.jobStatus)));
    }
    if (trigger.kind === "job-failed" && found.failedJobs.total > 0) {
      reasons.push(triggerReason(trigger));
    }
    if (
      trigger.kind === "service-expiring" &&
      found.expiringServices.some((window) => window.days === trigger.days && window.total > 0)
    ) {
      reasons.push(triggerReason(trigger));
    }
  }
  return reasons;
}

/**
 * The database is given the same bound as the delivery, and the stop signal ends the wait
 * too: a stuck query must not hold up the run or the shutdown.
 */
async function withinLimit<T>(
  work: Promise<T>,
  limits: DeliveryLimits,
  signal: AbortSignal | undefined,
): Promise<T> {
  const stop = signal
    ? AbortSignal.any([signal, AbortSignal.timeout(limits.totalTimeoutMs)])
    : AbortSignal.timeout(limits.totalTimeoutMs);
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(
        new Error(
          `reading the run's changes: stopped after ${limits.totalTimeoutMs} ms or by shutdown`,
        ),
      );
    };
    if (stop.aborted) onAbort();
    else stop.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stopped]);
  } finally {
    if (onAbort) stop.removeEventListener("abort", onAbort);
  }
}
