// What a complete run may mark removed. Two safeguards stand between "on no page" and
// "removed":
// - every absent customer is asked for by id first: offset paging over a list that changed
//   during the run can skip a customer while the distinct count still matches totalCount;
// - a run that would remove more than MAX_REMOVAL_FRACTION of the present customers removes
//   none: an API that suddenly answers with an empty or truncated list must never empty
//   the database.
import type { PrismaClient } from "../db.ts";
import type { ElementsClient } from "../elements/client.ts";
import { ElementsApiError } from "../elements/errors.ts";
import type { Logger } from "../logger.ts";
import { isObject } from "../values.ts";
import { checkRecords } from "./records.ts";
import type { StagingWriter } from "./staging.ts";

export interface RemovalDecision {
  /** Whether the merge marks customers (and tenants) the run did not see as removed. */
  removeAbsent: boolean;
  /** Customers the guard kept from being marked removed. */
  withheld: number;
  /** For the run row and the logs when the guard held removals back. */
  warning: string | null;
  /** Set when a lookup showed the run cannot judge removals after all. */
  incompleteReason: string | null;
}

export interface RemovalDependencies {
  prisma: PrismaClient;
  client: ElementsClient;
  log: Logger;
  /** Opened only when there are customers to look up: most runs have none. */
  openWriter: () => Promise<StagingWriter>;
}

export interface RemovalOptions {
  runId: number;
  pageSize: number;
  concurrency: number;
  maxRemovalFraction: number;
  allowMassRemoval: boolean;
  signal?: AbortSignal | undefined;
}

/** Call after every page is staged, for a run judged complete. */
export async function decideRemovals(
  deps: RemovalDependencies,
  options: RemovalOptions,
): Promise<RemovalDecision> {
  const { present, absent } = await countAbsent(deps.prisma, options.runId);
  const decision = { removeAbsent: true, withheld: 0, warning: null, incompleteReason: null };
  if (absent === 0) return decision;

  const warning = massRemovalWarning({ present, absent, ...options });
  if (warning !== null) {
    deps.log.warn({ present, absent, maxRemovalFraction: options.maxRemovalFraction }, warning);
    return { ...decision, removeAbsent: false, withheld: absent, warning };
  }

  const ids = await listAbsent(deps.prisma, options.runId);
  deps.log.info({ absent: ids.length }, "asking the API for each customer missing from the pages");
  const found = await lookUpEach(deps, options, ids);
  if (found.rejected.length > 0) {
    const reason = `${found.rejected.length} customer(s) missing from the pages exist but their record was rejected (${found.rejected.slice(0, 3).join(", ")})`;
    deps.log.warn({ reason }, "incomplete run: nothing will be marked removed");
    return { ...decision, removeAbsent: false, incompleteReason: reason };
  }
  if (found.staged > 0) {
    deps.log.warn(
      { found: found.staged },
      "customers missing from the pages exist (skipped by paging while the list changed); merged them, not removed",
    );
  }
  return decision;
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

async function countAbsent(
  prisma: PrismaClient,
  runId: number,
): Promise<{ present: number; absent: number }> {
  const [row] = await prisma.$queryRaw<{ present: number; absent: number }[]>`
    SELECT count(*)::int AS present,
           count(*) FILTER (WHERE NOT EXISTS (
             SELECT 1 FROM staging_customers s WHERE s.run_id = ${runId}::int AND s.id = c.id
           ))::int AS absent
    FROM customers c
    WHERE c.removed_at IS NULL`;
  return row ?? { present: 0, absent: 0 };
}

async function listAbsent(prisma: PrismaClient, runId: number): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    SELECT c.id FROM customers c
    WHERE c.removed_at IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM staging_customers s WHERE s.run_id = ${runId}::int AND s.id = c.id
      )
    ORDER BY c.id`;
  return rows.map((row) => row.id);
}

/**
 * Asks for each customer by id, `concurrency` at a time, staging the ones the API still
 * has. A 404 or an empty answer confirms the removal.
 */
async function lookUpEach(
  deps: RemovalDependencies,
  options: RemovalOptions,
  ids: readonly string[],
): Promise<{ staged: number; rejected: string[] }> {
  const result = { staged: 0, rejected: [] as string[] };
  const writer = await deps.openWriter();
  // The first failure stops the other lookups.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let next = 0;
  const worker = async () => {
    for (let id = ids[next++]; id !== undefined; id = ids[next++]) {
      const records = await lookUp(deps.client, id, options.pageSize, signal);
      const { accepted, rejected } = checkRecords(1, records);
      if (rejected.length > 0) result.rejected.push(id);
      await writer.write(accepted);
      result.staged += accepted.length;
    }
  };
  const workers = Array.from({ length: Math.min(options.concurrency, ids.length) }, () =>
    worker().catch((error: unknown) => {
      stop.abort(error);
      throw error;
    }),
  );
  await Promise.allSettled(workers);
  await writer.idle();
  writer.close();
  // Every failure aborts `stop`: its reason is the first one, not an abort it caused.
  if (stop.signal.aborted) throw stop.signal.reason;
  return result;
}

async function lookUp(
  client: ElementsClient,
  customerId: string,
  pageSize: number,
  signal: AbortSignal,
): Promise<unknown[]> {
  try {
    const page = await client.fetchPage({ pageIndex: 1, pageSize, customerId }, signal);
    // Whatever else a server sends back, only this customer's record settles its fate.
    return page.data.filter((record) => isObject(record) && record.id === customerId);
  } catch (error) {
    if (error instanceof ElementsApiError && error.status === 404) return [];
    throw error;
  }
}
