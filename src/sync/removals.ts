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
import type { Fetched } from "./fetch.ts";
import { FILTER_IGNORED } from "./id-filter-support.ts";
import { lookUpCustomers } from "./lookup.ts";
import type { RunContext } from "./run-context.ts";
import type { RunOutcome } from "./runs.ts";

/**
 * The run's verdict for its row (complete as judged from the pages, unless a lookup showed
 * it cannot judge removals after all; what the guard withheld), whether the merge marks
 * the customers and tenants the run did not see as removed, and how many customers that is.
 */
export type RemovalDecision = Pick<
  RunOutcome,
  "complete" | "incompleteReason" | "removalsWithheld" | "warning"
> & { removeAbsent: boolean; unseen: number };

/** Call after every page is merged. */
export async function decideRemovals(run: RunContext, fetched: Fetched): Promise<RemovalDecision> {
  const { log, session, options } = run;
  const { completeness } = fetched;
  if (!completeness.complete) return incomplete(log, completeness.reason);
  const present = session.presentBefore;
  const unseen = () => present - run.pipeline.tally().presentSeen;
  const complete = (): RemovalDecision => ({
    removeAbsent: true,
    unseen: unseen(),
    complete: true,
    incompleteReason: null,
    removalsWithheld: 0,
    warning: null,
  });
  const absent = unseen();
  if (absent === 0) return complete();

  const warning = massRemovalWarning({ present, absent, ...options });
  if (warning !== null) {
    log.warn({ present, absent, maxRemovalFraction: options.maxRemovalFraction }, warning);
    return { ...complete(), removeAbsent: false, removalsWithheld: absent, warning };
  }

  const ids = await session.listUnseen();
  log.info({ absent: ids.length }, "asking the API for the customers missing from the pages");
  const started = performance.now();
  // Lookups ask for as many ids per request as the server serves records per page. Those
  // found are merged like any other; the rest are what the run removes.
  const found = await lookUpCustomers(run, ids, fetched.pageSize);
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
  return complete();
}

/** A run that cannot tell who is gone marks no one removed. */
function incomplete(log: Logger, reason: string | null): RemovalDecision {
  log.warn({ reason }, "incomplete run: nothing will be marked removed");
  return {
    removeAbsent: false,
    unseen: 0,
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
  /** What is counted (default "customers"). */
  noun?: string;
}): string | null {
  const { present, absent, maxRemovalFraction, noun = "customers" } = input;
  if (input.allowMassRemoval || present === 0 || absent / present <= maxRemovalFraction) {
    return null;
  }
  const percent = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;
  return (
    `mass-removal guard: the API no longer lists ${absent} of ${present} present ${noun} ` +
    `(${percent(absent / present)}, over MAX_REMOVAL_FRACTION ${maxRemovalFraction}); none were marked removed. ` +
    "If they really are gone, run `elements-sync sync --allow-mass-removal`."
  );
}
