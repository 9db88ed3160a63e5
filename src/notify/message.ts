// The JSON body of a run notification. Slack and Microsoft Teams incoming webhooks both show
// a top-level Markdown `text` and ignore the other fields, which carry the same facts for
// receivers that read JSON (a script, an automation flow).
import type { ExpiringServiceRow, FailedJobRow } from "../sql/notifications.ts";
import type { RunSummary } from "../sync/sync.ts";
import {
  adaptiveCardMessage,
  markdownText,
  slackCode,
  slackText,
  type BodyFormat,
  type Escape,
} from "./format.ts";

/**
 * Why a run sends a notification: `failed`, `warning`, `status:<label>`, `job:failed` or
 * `service:expiring:<days>`.
 */
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

/** A backup job the run saw turn failing (or first saw failing). */
export type FailedJob = FailedJobRow;

/** A subscription that entered the last `days` before its expiration at the run. */
export type ExpiringService = ExpiringServiceRow;

/** Up to MAX_LISTED_CHANGES items, and how many there are in all. */
export interface ListedItems<T> {
  listed: T[];
  total: number;
}

export interface RunNotification {
  reasons: NotifyReason[];
  summary: RunSummary;
  /** Up to MAX_LISTED_CHANGES of them. */
  changes: WatchedChange[];
  /** How many customers the run moved into a watched status in all. */
  changesTotal: number;
  /** Jobs that turned failing (NOTIFY_ON's job:failed); none listed without that trigger. */
  failedJobs: ListedItems<FailedJob>;
  /** One entry per service:expiring:<days> of NOTIFY_ON, by days. */
  expiringServices: (ListedItems<ExpiringService> & { days: number })[];
}

/** Customers (jobs, subscriptions) listed in one notification; the total is always given. */
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
  failedJobs: {
    total: number;
    listed: {
      customerId: string;
      organization: string | null;
      jobId: string;
      name: string | null;
      module: number;
      moduleLabel: string | null;
      previousStatus: number | null;
      previousStatusLabel: string | null;
      status: number;
      statusLabel: string | null;
    }[];
  };
  expiringServices: {
    days: number;
    total: number;
    /** As sent in the body: the row as read, field for field. */
    listed: ExpiringServiceRow[];
  }[];
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
    failedJobs: {
      total: notification.failedJobs.total,
      listed: notification.failedJobs.listed.map((job) => ({
        customerId: job.customerId,
        organization: job.organization,
        jobId: job.jobId,
        name: job.name,
        module: job.jobModule,
        moduleLabel: job.moduleLabel,
        previousStatus: job.previousStatus,
        previousStatusLabel: job.previousStatusLabel,
        status: job.status,
        statusLabel: job.statusLabel,
      })),
    },
    expiringServices: notification.expiringServices.map(({ days, total, listed }) => ({
      days,
      total,
      listed: listed.map((service) => ({
        customerId: service.customerId,
        organization: service.organization,
        service: service.service,
        source: service.source,
        subscriptionName: service.subscriptionName,
        expirationDate: service.expirationDate,
        daysLeft: service.daysLeft,
      })),
    })),
  };
}

/**
 * Paragraphs both Slack (mrkdwn) and Teams (Markdown) render: a `-` list, code spans. Data
 * from the API is put in as text (`escape`), line breaks flattened, backticks made quotes.
 */
function markdown(notification: RunNotification, escape: Escape, escapeCode: Escape): string[] {
  const { summary, changes, changesTotal } = notification;
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
  const customer = (organization: string | null, id: string) =>
    `${plain(organization ?? "(no organization)")} (${code(id)})`;
  const { failedJobs } = notification;
  if (failedJobs.total > 0) {
    paragraphs.push(`${count(failedJobs.total, "backup job", "backup jobs")} turned failing:`);
    paragraphs.push(
      listLines(failedJobs, (job) => {
        const module = job.moduleLabel ?? `module ${job.jobModule}`;
        const from = job.previousStatusLabel ?? statusText(job.previousStatus, "new");
        const to = job.statusLabel ?? statusText(job.status, "");
        return (
          `${customer(job.organization, job.customerId)}: job ${code(job.jobId)} ` +
          `${plain(job.name ?? "(no name)")} (${plain(module)}): ${plain(from)} → ${plain(to)}`
        );
      }),
    );
  }
  for (const window of notification.expiringServices) {
    if (window.total === 0) continue;
    const subscriptions = count(window.total, "subscription", "subscriptions");
    const expire = window.total === 1 ? "expires" : "expire";
    paragraphs.push(`${subscriptions} now ${expire} within ${count(window.days, "day", "days")}:`);
    paragraphs.push(
      listLines(window, (service) => {
        const identity = [service.source, service.subscriptionName].filter(
          (part): part is string => part !== null,
        );
        const detail = identity.length > 0 ? ` (${plain(identity.join(", "))})` : "";
        return (
          `${customer(service.organization, service.customerId)}: ${plain(service.service)}${detail} ` +
          `expires ${service.expirationDate}, ${daysLeft(service.daysLeft)}`
        );
      }),
    );
  }
  return paragraphs;
}

/** A `-` line per listed item, and how many more there are. */
function listLines<T>({ listed, total }: ListedItems<T>, line: (item: T) => string): string {
  const lines = listed.map((item) => `- ${line(item)}`);
  if (total > listed.length) lines.push(`- and ${total - listed.length} more`);
  return lines.join("\n");
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A status code without a label: `status 9`; `none` when there is no code. */
function statusText(status: number | null, none: string): string {
  return status === null ? none : `status ${status}`;
}

function daysLeft(days: number): string {
  if (days <= 0) return "today";
  return days === 1 ? "in 1 day" : `in ${days} days`;
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
