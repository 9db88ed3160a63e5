// NOTIFY_ON's grammar: which runs send a notification (failed, warning, status:<job status>).
import { JOB_STATUS_LABELS } from "../elements/codes.ts";

/** A kind of run that sends a notification. */
export type NotifyTrigger =
  | { kind: "failed" }
  | { kind: "warning" }
  /** A run that moved at least one customer into this job status. */
  | { kind: "status"; jobStatus: number };

export const DEFAULT_NOTIFY_ON = "failed,warning,status:failed";

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

/** The triggers of a NOTIFY_ON list, or the message naming the entry that is wrong. */
export function parseTriggers(list: string): NotifyTrigger[] | string {
  const triggers: NotifyTrigger[] = [];
  const seen = new Set<string>();
  for (const entry of list.split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    let trigger: NotifyTrigger;
    const lower = entry.toLowerCase();
    if (lower === "failed" || lower === "warning") {
      trigger = { kind: lower };
    } else if (lower.startsWith("status:")) {
      const jobStatus = jobStatusOf(entry.slice("status:".length).trim());
      if (jobStatus === undefined) {
        const labels = [...JOB_STATUS_LABELS.values()].map((label) => `"${label}"`).join(", ");
        return `NOTIFY_ON: "${entry}" names no job status; after status: give a code or one of ${labels}.`;
      }
      trigger = { kind: "status", jobStatus };
    } else {
      return `NOTIFY_ON: "${entry}" is not a trigger; use failed, warning or status:<job status>, separated by commas.`;
    }
    const key = JSON.stringify(trigger);
    if (!seen.has(key)) triggers.push(trigger);
    seen.add(key);
  }
  if (triggers.length === 0)
    return "NOTIFY_ON must list at least one of failed, warning, status:<job status>.";
  return triggers;
}
