// The JSON body of a run notification. Slack and Microsoft Teams incoming webhooks both show
// a top-level Markdown `text` and ignore the other fields, which carry the same facts for
// receivers that read JSON (a script, an automation flow).
import type { RunSummary } from "../sync/sync.ts";
import {
  adaptiveCardMessage,
  markdownText,
  slackCode,
  slackText,
  type BodyFormat,
  type Escape,
} from "./format.ts";

/** Why a run sends a notification: `failed`, `warning`, or `status:<label>`. */
export type NotifyReason = string;

/** A customer the run moved into a watched job status. */
export interface WatchedChange {
  customerId: string;
  organization: string | null;
  /** `added` (first seen), `restored` (back after a removal) or `changed`. */
  changeKind: string;
  /** The job status label before the run; null for a customer seen for the first time. */
  previousStatus: string | null;
  status: string;
}

export interface RunNotification {
  reasons: NotifyReason[];
  summary: RunSummary;
  /** Up to MAX_LISTED_CHANGES of them. */
  changes: WatchedChange[];
  /** How many customers the run moved into a watched status in all. */
  changesTotal: number;
}

/** Customers listed in one notification; the total is always given. */
export const MAX_LISTED_CHANGES = 50;

export interface WebhookBody {
  text: string;
  source: "elements-sync";
  reasons: NotifyReason[];
  run: {
    id: number;
    status: RunSummary["status"];
    durationMs: number;
    complete: boolean;
    error: string | null;
    warning: string | null;
    counts: {
      customersSeen: number;
      tenantsSeen: number;
      customersAdded: number;
      customersRemoved: number;
      customersRestored: number;
      statusChanges: number;
      rejectedRecords: number;
      removalsWithheld: number;
    };
  };
  statusChanges: {
    total: number;
    listed: {
      customerId: string;
      organization: string | null;
      changeKind: string;
      from: string | null;
      to: string;
    }[];
  };
}

/**
 * The body for `format`: the JSON below (Slack's or Markdown's text in it), or for Teams
 * Workflows the same text as an Adaptive Card.
 */
export function webhookBody(notification: RunNotification, format: BodyFormat = "json"): unknown {
  const slack = format === "slack" || format === "json";
  const paragraphs = markdown(
    notification,
    slack ? slackText : markdownText,
    slack ? slackCode : (text) => text,
  );
  if (format === "teams-workflow") return adaptiveCardMessage(paragraphs);
  return jsonBody(notification, paragraphs.join("\n\n"));
}

function jsonBody(notification: RunNotification, text: string): WebhookBody {
  const { summary } = notification;
  const succeeded = summary.status === "succeeded";
  return {
    text,
    source: "elements-sync",
    reasons: notification.reasons,
    run: {
      id: summary.runId,
      status: summary.status,
      durationMs: Math.round(summary.durationMs),
      complete: succeeded && summary.complete,
      error: succeeded ? null : summary.error,
      warning: succeeded ? summary.warning : null,
      counts: {
        customersSeen: summary.customersSeen,
        tenantsSeen: summary.tenantsSeen,
        customersAdded: succeeded ? summary.customersAdded : 0,
        customersRemoved: succeeded ? summary.customersRemoved : 0,
        customersRestored: succeeded ? summary.customersRestored : 0,
        statusChanges: succeeded ? summary.statusChanges : 0,
        rejectedRecords: summary.rejectedRecords,
        removalsWithheld: succeeded ? summary.removalsWithheld : 0,
      },
    },
    statusChanges: {
      total: notification.changesTotal,
      listed: notification.changes.map((change) => ({
        customerId: change.customerId,
        organization: change.organization,
        changeKind: change.changeKind,
        from: change.previousStatus,
        to: change.status,
      })),
    },
  };
}

/**
 * Paragraphs both Slack (mrkdwn) and Teams (Markdown) render: a `-` list, code spans. Data
 * from the API is put in as text (`escape`), line breaks flattened, backticks made quotes.
 */
function markdown(
  { summary, changes, changesTotal }: RunNotification,
  escape: Escape,
  escapeCode: Escape,
): string[] {
  const plain = (text: string) => escape(flatten(text));
  const code = (text: string) => `\`${escapeCode(flatten(text))}\``;
  const paragraphs = [headline(summary)];
  if (summary.status === "failed") paragraphs.push(`Error: ${code(summary.error)}`);
  if (summary.status === "succeeded" && summary.warning !== null) {
    paragraphs.push(`Warning: ${plain(summary.warning)}`);
  }
  if (changesTotal > 0) {
    const customers = changesTotal === 1 ? "1 customer" : `${changesTotal} customers`;
    paragraphs.push(`${customers} moved into a watched job status:`);
    const lines = changes.map(
      (change) =>
        `- ${plain(change.organization ?? "(no organization)")} (${code(change.customerId)}): ` +
        `${plain(change.previousStatus ?? "new")} → ${plain(change.status)}`,
    );
    if (changesTotal > changes.length) lines.push(`- and ${changesTotal - changes.length} more`);
    paragraphs.push(lines.join("\n"));
  }
  return paragraphs;
}

function headline(summary: RunSummary): string {
  const seconds = `${(summary.durationMs / 1000).toFixed(1)} s`;
  if (summary.status === "failed") {
    return `elements-sync run ${summary.runId} failed after ${seconds} (${summary.customersSeen} customers fetched).`;
  }
  const scope = summary.complete ? "complete" : "incomplete";
  return (
    `elements-sync run ${summary.runId} succeeded in ${seconds}: ${summary.customersSeen} customers (${scope}), ` +
    `${summary.customersAdded} added, ${summary.customersRemoved} removed, ${summary.customersRestored} restored, ` +
    `${summary.statusChanges} status changes, ${summary.rejectedRecords} rejected.`
  );
}

/**
 * One line of at most 500 characters; a backtick becomes a quote, so no text ends a code
 * span (inside one, nothing else is markup, and `<`, `>` and `&` are shown as they are).
 */
function flatten(text: string): string {
  return text.replaceAll(/\s+/g, " ").slice(0, 500).replaceAll("`", "'");
}
