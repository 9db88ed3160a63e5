// NOTIFY_WEBHOOK_URL and NOTIFY_ON: where run notifications go and which runs send one.
// The URL is a secret (Slack and Teams put the credential in its path): no message here
// ever contains it.
import { z } from "zod";
import { JOB_STATUS_LABELS } from "../elements/codes.ts";
import { ConfigError } from "../errors.ts";
import type { Env } from "../config.ts";

/** A kind of run that sends a notification. */
export type NotifyTrigger =
  | { kind: "failed" }
  | { kind: "warning" }
  /** A run that moved at least one customer into this job status. */
  | { kind: "status"; jobStatus: number };

export interface NotifyConfig {
  webhookUrl: string;
  triggers: NotifyTrigger[];
}

export const DEFAULT_NOTIFY_ON = "failed,warning,status:failed";

const URL_EXPECTATION =
  "NOTIFY_WEBHOOK_URL must be an http(s) URL without a user name or password, such as a Slack or Microsoft Teams incoming webhook; the value given is not.";

function hasCredentials(url: string): boolean {
  // zod runs this even on a value it found not to be a URL; that one is reported already.
  if (!URL.canParse(url)) return false;
  const { username, password } = new URL(url);
  return username !== "" || password !== "";
}

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

const blankIsUnset = (value: unknown) => (value === "" ? undefined : value);

/** The notification variables of the environment; an empty value counts as unset. */
export const notifyEnvSchema = z.object({
  NOTIFY_WEBHOOK_URL: z.preprocess(
    blankIsUnset,
    z
      .url({ protocol: /^https?$/, error: URL_EXPECTATION })
      // fetch() refuses a URL with credentials; say so before any run.
      .refine((url) => !hasCredentials(url), { error: URL_EXPECTATION })
      .optional(),
  ),
  NOTIFY_ON: z.preprocess(
    blankIsUnset,
    z
      .string()
      .default(DEFAULT_NOTIFY_ON)
      .transform((list, ctx) => {
        const triggers = parseTriggers(list);
        if (typeof triggers !== "string") return triggers;
        ctx.issues.push({ code: "custom", message: triggers, input: list });
        return z.NEVER;
      }),
  ),
});

/** Undefined when NOTIFY_WEBHOOK_URL is unset: no notifications. NOTIFY_ON is checked either way. */
export function readNotifyConfig(env: Env): NotifyConfig | undefined {
  const result = notifyEnvSchema.safeParse({
    NOTIFY_WEBHOOK_URL: env.NOTIFY_WEBHOOK_URL,
    NOTIFY_ON: env.NOTIFY_ON,
  });
  if (!result.success) {
    throw new ConfigError(result.error.issues[0]?.message ?? "NOTIFY_* is invalid.");
  }
  const { NOTIFY_WEBHOOK_URL: webhookUrl, NOTIFY_ON: triggers } = result.data;
  return webhookUrl === undefined ? undefined : { webhookUrl, triggers };
}
