// The summary `sync` prints, and the same facts for the demo: a line for the run, then what
// it changed, one count per kind (customers, their attributes, tenants), then what it did
// with services and backup jobs.
import { formatSeconds } from "../reporting/format.ts";
import type { ResourceRecord } from "../sql/resources.ts";
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
  const { changes } = summary;
  const attributes =
    changes === null
      ? // The run's own count, when the counts by kind could not be read after it committed.
        `${summary.statusChanges} job status or management mode (by kind: not read, see the log)`
      : `${changes.jobStatus} job status, ${changes.managementMode} management mode, ` +
        `${changes.ownerEmail} owner email, ${changes.organization} organization, ` +
        `${changes.countryOrRegion} country or region`;
  return [
    `run ${summary.runId} succeeded in ${seconds(summary.durationMs)}: ` +
      `${summary.customersSeen} customers (${scope}), ${summary.tenantsSeen} tenants, ` +
      `${summary.rejectedRecords} rejected`,
    `  customers: ${summary.customersAdded} added, ${summary.customersRemoved} removed, ` +
      `${summary.customersRestored} restored`,
    `  changed:   ${attributes}`,
    ...(changes === null
      ? []
      : [
          `  tenants:   ${changes.tenantsAdded} added, ${changes.tenantsRenamed} renamed, ` +
            `${changes.tenantsRemoved} removed, ${changes.tenantsRestored} restored`,
        ]),
    ...summary.resources.filter((r) => r.resource !== "customers").map(resourceLine),
    ...(summary.warning === null ? [] : [`warning: ${summary.warning}`]),
  ].join("\n");
}

const RECORDS: Record<string, string> = { services: "products", jobs: "jobs" };

/** `  services:  12 products, 1 request (complete)`: what the run did with one resource. */
function resourceLine(record: ResourceRecord): string {
  const label = `${record.resource}:`.padEnd(10);
  const rejected = record.rejected > 0 ? `, ${record.rejected} rejected` : "";
  const requests = `${record.requests} request${record.requests === 1 ? "" : "s"}`;
  const outcome = record.reason === null ? record.outcome : `${record.outcome}: ${record.reason}`;
  return `  ${label} ${record.records} ${RECORDS[record.resource] ?? "records"}${rejected}, ${requests} (${outcome})`;
}
