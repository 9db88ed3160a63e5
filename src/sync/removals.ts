// What a run may mark removed: nothing after an incomplete run. For a complete one, two
// safeguards stand between "on no page" and "removed":
// - every absent customer is asked for by id first: offset paging over a list that changed
//   during the run can skip a customer while the distinct count still matches totalCount.
//   Up to a page of ids per request (lookup.ts); only a filter the API applied can show
//   that a customer is gone, and when it applies neither form, no one is removed;
// - a run that would remove more than MAX_REMOVAL_FRACTION of the present customers removes
//   none: an API that suddenly answers with an empty or truncated list must never empty
//   the database.
import type { Logger } from "../logger.ts";
import type { Completeness } from "./completeness.ts";
import { FILTER_IGNORED, lookUpCustomers, type LookupContext } from "./lookup.ts";
import type { RunOutcome } from "./runs.ts";

/** What the run's merge knows of the customers present before the run (run-merge.ts). */
export interface UnseenCustomers {
  /** Present before the run. */
  presentBefore(): number;
  /** Present before the run and not seen by it (so far). */
  unseen(): number;
  /** Their ids, in order. */
  listUnseen(): Promise<string[]>;
  /** Resolves once what lookups staged is merged. */
  drained(): Promise<void>;
}

export interface RemovalContext extends LookupContext {
  customers: UnseenCustomers;
  maxRemovalFraction: number;
  allowMassRemoval: boolean;
}

/**
 * The run's verdict for its row (complete as judged from the pages, unless a lookup showed
 * it cannot judge removals after all; what the guard withheld), and whether the merge marks
 * the customers and tenants the run did not see as removed.
 */
export type RemovalDecision = Pick<
  RunOutcome,
  "complete" | "incompleteReason" | "removalsWithheld" | "warning"
> & { removeAbsent: boolean };

/** Call after every page is merged. */
export async function decideRemovals(
  context: RemovalContext,
  completeness: Completeness,
): Promise<RemovalDecision> {
  const { log, customers } = context;
  if (!completeness.complete) return incomplete(log, completeness.reason);
  const complete: RemovalDecision = {
    removeAbsent: true,
    complete: true,
    incompleteReason: null,
    removalsWithheld: 0,
    warning: null,
  };
  const present = customers.presentBefore();
  const absent = customers.unseen();
  if (absent === 0) return complete;

  const warning = massRemovalWarning({ present, absent, ...context });
  if (warning !== null) {
    log.warn({ present, absent, maxRemovalFraction: context.maxRemovalFraction }, warning);
    return { ...complete, removeAbsent: false, removalsWithheld: absent, warning };
  }

  const ids = await customers.listUnseen();
  log.info({ absent: ids.length }, "asking the API for the customers missing from the pages");
  const started = performance.now();
  const found = await lookUpCustomers(context, ids);
  // Those found are merged like any other; the rest are what the run removes.
  await customers.drained();
  log.info(
    {
      absent: ids.length,
      requests: found.requests,
      durationMs: Math.round(performance.now() - started),
      found: found.found.size,
      gone: found.gone.length,
    },
    "asked the API for the customers missing from the pages",
  );
  if (found.rejected.length > 0) {
    for (const record of found.rejected) log.warn(record, "rejected a customer record");
    const rejectedIds = found.rejected.map((record) => record.id ?? "?");
    return incomplete(
      log,
      `${rejectedIds.length} customer(s) missing from the pages exist but their record was rejected (${rejectedIds.slice(0, 3).join(", ")})`,
    );
  }
  if (found.unsettled.length > 0) {
    return incomplete(
      log,
      `${FILTER_IGNORED}, so the removal of ${found.unsettled.length} customer(s) missing from the pages could not be confirmed`,
    );
  }
  if (found.found.size > 0) {
    log.warn(
      { found: found.found.size },
      "customers missing from the pages exist (skipped by paging while the list changed); merged them, not removed",
    );
  }
  return complete;
}

/** A run that cannot tell who is gone marks no one removed. */
function incomplete(log: Logger, reason: string | null): RemovalDecision {
  log.warn({ reason }, "incomplete run: nothing will be marked removed");
  return {
    removeAbsent: false,
    complete: false,
    incompleteReason: reason,
    removalsWithheld: 0,
    warning: null,
  };
}

/** Null when the removals are allowed, else why they are held back. */
export function massRemovalWarning(input: {
  present: number;
  absent: number;
  maxRemovalFraction: number;
  allowMassRemoval: boolean;
}): string | null {
  const { present, absent, maxRemovalFraction } = input;
  if (input.allowMassRemoval || present === 0 || absent / present <= maxRemovalFraction) {
    return null;
  }
  const percent = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;
  return (
    `mass-removal guard: the API no longer lists ${absent} of ${present} present customers ` +
    `(${percent(absent / present)}, over MAX_REMOVAL_FRACTION ${maxRemovalFraction}); none were marked removed. ` +
    "If they really are gone, run `elements-sync sync --allow-mass-removal`."
  );
}
