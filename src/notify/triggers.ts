// NOTIFY_ON's grammar: which runs send a notification (failed, warning, status:<job status>,
// job:failed, service:expiring:<days>).
import { JOB_STATUS_LABELS } from "../elements/codes.ts";

/** A kind of run that sends a notification. */
export type NotifyTrigger =
  | { kind: "failed" }
  | { kind: "warning" }
  /** A run that moved at least one customer into this job status. */
  | { kind: "status"; jobStatus: number }
  /** A run that saw at least one backup job turn failing (or first seen failing). */
  | { kind: "job-failed" }
  /** A run at which at least one present subscription entered the last `days` before it expires. */
  | { kind: "service-expiring"; days: number };

export const DEFAULT_NOTIFY_ON = "failed,warning,status:failed";

/** The longest window `service:expiring:<days>` takes: ten years. */
export const MAX_EXPIRING_DAYS = 3650;

const TRIGGER_LIST = "failed, warning, status:<job status>, job:failed or service:expiring:<days>";

/** Labels compare in any case, with `-` or `_` for spaces: `no-backup-update`. */
function normalizeLabel(label: string): string {
  return label
    .toLowerCase()
    .replaceAll(/[-_\s]+/g, " ")
    .trim();
}

function jobStatusOf(raw: string): number | undefined {
  if (/^\d+$/.test(raw)) return Number(raw);
  const wanted = normalizeLabel(raw);
  for (const [code, label] of JOB_STATUS_LABELS) if (normalizeLabel(label) === wanted) return code;
  return undefined;
}

/** One entry of the list, or the message naming what is wrong with it. */
function parseEntry(entry: string): NotifyTrigger | string {
  const lower = entry.toLowerCase();
  if (lower === "failed" || lower === "warning") return { kind: lower };
  if (lower === "job:failed") return { kind: "job-failed" };
  if (lower.startsWith("status:")) {
    const jobStatus = jobStatusOf(entry.slice("status:".length).trim());
    if (jobStatus === undefined) {
      const labels = [...JOB_STATUS_LABELS.values()].map((label) => `"${label}"`).join(", ");
      return `NOTIFY_ON: "${entry}" names no job status; after status: give a code or one of ${labels}.`;
    }
    return { kind: "status", jobStatus };
  }
  if (lower.startsWith("service:expiring")) {
    const days = /^service:expiring:(\d{1,4})$/.exec(lower.replaceAll(/\s+/g, ""))?.[1];
    if (days === undefined || Number(days) < 1 || Number(days) > MAX_EXPIRING_DAYS) {
      return `NOTIFY_ON: "${entry}" needs a number of days from 1 to ${MAX_EXPIRING_DAYS}, such as service:expiring:30.`;
    }
    return { kind: "service-expiring", days: Number(days) };
  }
  return `NOTIFY_ON: "${entry}" is not a trigger; use ${TRIGGER_LIST}, separated by commas.`;
}

/** The triggers of a NOTIFY_ON list, or the message naming the entry that is wrong. */
export function parseTriggers(list: string): NotifyTrigger[] | string {
  const triggers: NotifyTrigger[] = [];
  const seen = new Set<string>();
  for (const entry of list.split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    const trigger = parseEntry(entry);
    if (typeof trigger === "string") return trigger;
    const key = JSON.stringify(trigger);
    if (!seen.has(key)) triggers.push(trigger);
    seen.add(key);
  }
  if (triggers.length === 0) return `NOTIFY_ON must list at least one of ${TRIGGER_LIST}.`;
  return triggers;
}

/** The reason a trigger gives in a notification, as NOTIFY_ON spells it. */
export function triggerReason(trigger: NotifyTrigger, jobStatusLabel?: string): string {
  switch (trigger.kind) {
    case "failed":
    case "warning":
      return trigger.kind;
    case "status":
      return `status:${(jobStatusLabel ?? String(trigger.jobStatus)).toLowerCase().replaceAll(" ", "-")}`;
    case "job-failed":
      return "job:failed";
    case "service-expiring":
      return `service:expiring:${trigger.days}`;
  }
}
