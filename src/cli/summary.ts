// The one-line summary `sync` prints, and the same facts for the demo.
import { formatSeconds } from "../reporting/format.ts";
import type { RunSummary } from "../sync/sync.ts";

function seconds(ms: number): string {
  return `${formatSeconds(ms)} s`;
}

export function formatRunSummary(summary: RunSummary): string {
  if (summary.status === "failed") {
    return `run ${summary.runId} failed after ${seconds(summary.durationMs)}: ${summary.error}`;
  }
  const scope = summary.complete
    ? "complete"
    : `incomplete: ${summary.incompleteReason ?? "unknown reason"}`;
  return (
    `run ${summary.runId} succeeded in ${seconds(summary.durationMs)}: ` +
    `${summary.customersSeen} customers (${scope}), ${summary.tenantsSeen} tenants; ` +
    `${summary.customersAdded} added, ${summary.customersRemoved} removed, ` +
    `${summary.customersRestored} restored, ${summary.statusChanges} status changes, ` +
    `${summary.rejectedRecords} rejected` +
    (summary.warning === null ? "" : `\nwarning: ${summary.warning}`)
  );
}
