// The resources a run syncs after its customers pass (ELEMENTS_RESOURCES): services, then
// backup jobs, each in a pass of its own over the customers the run saw, in the run's one
// transaction; and each resource's record for the run (sync_run_resources).
import type { ResourceName } from "../elements/resources.ts";
import type { ResourceRecord } from "../sql/resources.ts";
import { syncJobs } from "./jobs-pass.ts";
import type { RemovalDecision } from "./removals.ts";
import type { RunContext } from "./run-context.ts";
import { syncServices } from "./services-pass.ts";

/** API requests per resource so far (the client's counter, read at the run's start). */
export type RequestCounts = Readonly<Record<ResourceName, number>>;

/** Services and jobs, as far as the run syncs them: each one's record, in order. */
export async function syncOtherResources(run: RunContext): Promise<ResourceRecord[]> {
  const records: ResourceRecord[] = [];
  if (run.options.resources.includes("services")) records.push(await syncServices(run));
  if (run.options.resources.includes("jobs")) records.push(await syncJobs(run));
  return records;
}

/** The customers pass's record: complete when the run could judge removals. */
export function customersRecord(
  run: RunContext,
  requestsAtStart: RequestCounts,
  decision: Pick<RemovalDecision, "complete" | "incompleteReason">,
): ResourceRecord {
  const { customersSeen, rejectedRecords } = run.pipeline.tally();
  return {
    resource: "customers",
    outcome: decision.complete ? "complete" : "partial",
    reason: decision.complete ? null : (decision.incompleteReason ?? "incomplete"),
    requests: run.client.requestsMade().customers - requestsAtStart.customers,
    records: customersSeen,
    rejected: rejectedRecords,
  };
}
