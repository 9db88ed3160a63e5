// The services pass: every page of the services endpoint (each customer's products), merged
// into subscriptions page by page in the run's transaction, after the customers pass. Paged
// like customers (page-plan.ts: page 1 tells the size, the rest follow `concurrency` at a
// time). Only a complete pass, within the mass-removal guard, removes the subscriptions it
// did not see; a customer that listed one identity twice loses none.
import type { Page } from "../elements/client.ts";
import { effectivePageSize } from "../elements/paging.ts";
import { SERVICES_ENDPOINT } from "../elements/resources.ts";
import {
  parseServicesItem,
  PRODUCT_FIELDS,
  type ProductRecord,
} from "../elements/services-payload.ts";
import type { Session } from "../db.ts";
import * as sql from "../sql/resources.ts";
import { withSeqScans } from "../sql/merge/planner.ts";
import { judgeCompleteness } from "./completeness.ts";
import type { SubscriptionRow } from "./entities.ts";
import { PagePlan } from "./page-plan.ts";
import { forEachConcurrently, requestPool, type InFlightLimit } from "./pool.ts";
import { mergeSubscriptions, type ListedSubscriptions } from "./resource-merge.ts";
import {
  newFields,
  Occurrences,
  runPass,
  type PassProgress,
  type PassResult,
  type ResourceLedger,
} from "./resource-pass.ts";
import { massRemovalWarning } from "./removals.ts";
import type { RunContext } from "./run-context.ts";

/** What the pass counts as it goes. */
interface ServicesTally {
  progress: PassProgress;
  /** Distinct customers listed. */
  distinct: number;
  rejectedItems: number;
  /** Products of customers the customers pass did not see: not stored. */
  unknownCustomers: Occurrences;
  duplicates: Occurrences;
  unparsable: Occurrences;
  newFields: Occurrences;
}

export function syncServices(run: RunContext, ledger: ResourceLedger): Promise<sql.ResourceRecord> {
  return runPass(run, ledger, SERVICES_ENDPOINT, (progress) => servicesPass(run, progress));
}

async function servicesPass(run: RunContext, progress: PassProgress): Promise<PassResult> {
  const { client, options, signal, session } = run;
  const presentBefore = await session.use(async (s) => {
    await sql.createServicesListedTable(s);
    return sql.countPresentSubscriptions(s);
  });
  const tally: ServicesTally = {
    progress,
    distinct: 0,
    rejectedItems: 0,
    unknownCustomers: new Occurrences(),
    duplicates: new Occurrences(),
    unparsable: new Occurrences(),
    newFields: new Occurrences(),
  };
  // A run of named customers asks for theirs only (and checks the answer: a server may ignore it).
  const body = options.customerIds === undefined ? {} : { customerIds: [...options.customerIds] };
  const request = (
    pageIndex: number,
    pageSize: number,
    pageSignal: AbortSignal,
    slots?: InFlightLimit,
  ) =>
    client.fetchResourcePage(SERVICES_ENDPOINT, { pageIndex, pageSize, body, slots }, pageSignal);
  const first = await request(1, options.pageSize, signal);
  const plan = new PagePlan({
    pageSize: effectivePageSize(options.pageSize, first.metadata.pageSize),
    concurrency: options.concurrency,
  });
  const take = async (pageIndex: number, page: Page) => {
    plan.answered(pageIndex, page.metadata);
    const { listed, accepted } = checkPage(run, page, tally);
    const newIds = await session.use((s) => mergeListed(s, run, listed, tally));
    tally.distinct += newIds;
    plan.staged({ pageIndex, records: page.data.length, accepted, newIds });
  };
  await take(1, first);
  // A worker merging its page holds no request slot meanwhile.
  const { pool, inFlight } = requestPool(options.concurrency, signal);
  await forEachConcurrently(plan, pool, async (i, s) => {
    await take(i, await request(i, plan.pageSize, s, inFlight));
  });
  const completeness = judgeCompleteness({
    customerFilter: options.customerIds ?? null,
    totalCounts: plan.totalCounts,
    distinctCustomers: tally.distinct,
    rejectedRecords: tally.rejectedItems,
    pagingStopped: plan.stopReason() ?? null,
  });
  tally.unknownCustomers.announce(
    run,
    "services of customers the customers pass did not list, not stored",
  );
  tally.duplicates.announce(
    run,
    "products listing one identity twice, both rejected (customer: identity)",
  );
  tally.unparsable.announce(
    run,
    "product fields that did not parse into their type, stored as NULL",
  );
  tally.newFields.announce(run, "product fields outside the documented set, kept in source_record");
  const reason = completeness.reason;
  const withheld = await session.use((s) => judgeRemovals(s, run, reason, presentBefore));
  return {
    incompleteReason: reason ?? withheld,
  };
}

/** A page's items checked: customers with their products, duplicated identities rejected. */
function checkPage(
  run: RunContext,
  page: Page,
  tally: ServicesTally,
): { listed: ListedSubscriptions[]; accepted: number } {
  const byCustomer = new Map<string, ListedSubscriptions>();
  for (const raw of page.data) {
    const item = parseServicesItem(raw);
    if ("rejected" in item) {
      tally.rejectedItems += 1;
      run.log.warn({ reason: item.rejected }, "services record rejected");
      continue;
    }
    tally.progress.records += item.products.length;
    for (const product of item.products) {
      for (const field of product.unparsable) tally.unparsable.add(field);
      for (const field of newFields(product.sourceRecord, PRODUCT_FIELDS))
        tally.newFields.add(field);
    }
    // Listed twice on one page: its last copy counts, as for customers.
    byCustomer.set(item.customerId, withoutDuplicates(item.customerId, item.products, tally));
  }
  return { listed: [...byCustomer.values()], accepted: byCustomer.size };
}

/** A customer's products; two with one identity are both rejected, and counted. */
function withoutDuplicates(
  customerId: string,
  products: readonly ProductRecord[],
  tally: ServicesTally,
): ListedSubscriptions {
  const byIdentity = new Map<string, ProductRecord[]>();
  for (const product of products) {
    // JSON, not a joined string: "A / B" + "C" and "A" + "B / C" are two identities.
    const identity = JSON.stringify([product.service, product.source, product.subscriptionName]);
    byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), product]);
  }
  const rows: SubscriptionRow[] = [];
  let hadDuplicates = false;
  for (const [identity, same] of byIdentity) {
    if (same.length === 1 && same[0]) rows.push({ customerId, product: same[0] });
    else {
      hadDuplicates = true;
      tally.progress.rejected += same.length;
      const named = (JSON.parse(identity) as string[]).map((part) => part || "N/A").join(" / ");
      tally.duplicates.add(`${customerId}: ${named}`);
    }
  }
  return { customerId, rows, hadDuplicates };
}

/**
 * Merges what the run may store: subscriptions of customers its customers pass saw. Returns
 * how many customers the pass lists for the first time (stored or not: each counts towards
 * its total).
 */
async function mergeListed(
  session: Session,
  run: RunContext,
  listed: readonly ListedSubscriptions[],
  tally: ServicesTally,
): Promise<number> {
  const ids = listed.map((customer) => customer.customerId);
  const firstListed = await sql.recordServicesListed(session, ids);
  const seen = await sql.seenByRun(session, run.runId, ids);
  for (const customer of listed) {
    if (seen.has(customer.customerId)) continue;
    // A run of named customers is answered with others by a server that ignores the filter.
    if (run.options.customerIds !== undefined) continue;
    tally.progress.rejected += customer.rows.length;
    tally.unknownCustomers.add(customer.customerId);
  }
  const known = listed.filter((customer) => seen.has(customer.customerId));
  await mergeSubscriptions(session, run.session.input, known, firstListed);
  return firstListed.size;
}

/**
 * What the pass may remove: nothing unless it was complete; then the subscriptions of
 * customers it never listed join those their customers no longer list, unless that is more
 * than the mass-removal guard allows. Returns why removals were withheld, or null.
 */
async function judgeRemovals(
  session: Session,
  run: RunContext,
  incompleteReason: string | null,
  presentBefore: number,
): Promise<string | null> {
  if (incompleteReason !== null) {
    await sql.forgetNotedSubscriptions(session);
    return null;
  }
  // Reading every subscription is what a scan is for.
  await withSeqScans(session, () => sql.collectSubscriptionsOfUnlisted(session));
  const absent = await sql.countNotedSubscriptions(session);
  const { maxRemovalFraction, allowMassRemoval } = run.options;
  const warning = massRemovalWarning({
    present: presentBefore,
    absent,
    maxRemovalFraction,
    allowMassRemoval,
    noun: "subscriptions",
  });
  if (warning === null) return null;
  await sql.forgetNotedSubscriptions(session);
  run.log.warn({ present: presentBefore, absent, maxRemovalFraction }, warning);
  return `mass-removal guard: ${absent} of ${presentBefore} subscriptions not removed`;
}
