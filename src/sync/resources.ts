// The resources a run syncs after its customers pass (ELEMENTS_RESOURCES): services, then
// backup jobs, each in a pass of its own over the customers the run saw, in the run's one
// transaction; and each resource's record for the run (sync_run_resources), kept in a
// ledger (resource-pass.ts) so that a run that fails still records what it got to.
import type { ResourceRecord } from "../sql/resources.ts";
import { syncJobs } from "./jobs-pass.ts";
import type { RemovalDecision } from "./removals.ts";
import type { ResourceLedger } from "./resource-pass.ts";
import type { RunContext } from "./run-context.ts";
import { syncServices } from "./services-pass.ts";

/**
 * The customers pass's record, complete when the run could judge removals; then services
 * and jobs, as far as the run syncs them, each one's pass and record in order.
 */
export async function syncResources(
  run: RunContext,
  ledger: ResourceLedger,
  decision: Pick<RemovalDecision, "complete" | "incompleteReason">,
): Promise<readonly ResourceRecord[]> {
  const { customersSeen, rejectedRecords } = run.pipeline.tally();
  ledger.end({
    resource: "customers",
    outcome: decision.complete ? "complete" : "partial",
    reason: decision.complete ? null : (decision.incompleteReason ?? "incomplete"),
    requests: ledger.requests("customers"),
    records: customersSeen,
    rejected: rejectedRecords,
  });
  if (run.options.resources.includes("services")) ledger.end(await syncServices(run, ledger));
  if (run.options.resources.includes("jobs")) ledger.end(await syncJobs(run, ledger));
  return ledger.records;
}
