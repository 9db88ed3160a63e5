// The customers endpoint's filter by customer id, in the two forms the API has documented:
// the seed's `customerId` (one string) and, since 2025-10-23, `customerIds` (a list). A
// server ignores a body field it does not know and answers with an unfiltered page of all
// customers, so an answer is never taken to be filtered because a filter was sent: what it
// holds must show it (judgeFilteredPage).
import { isObject } from "../values.ts";
import type { PageEnvelope } from "./payload.ts";

/** The body field a filter is sent in. */
export type FilterForm = "customerIds" | "customerId";

/**
 * One request's filter. Exactly one field is ever sent: a seed server given both would
 * honour `customerId` alone, and its answer would look as if the other ids were gone.
 */
export type IdFilter =
  { form: "customerIds"; ids: readonly string[] } | { form: "customerId"; id: string };

export function idsOf(filter: IdFilter): readonly string[] {
  return filter.form === "customerIds" ? filter.ids : [filter.id];
}

/** The request body that carries `filter` ({} without one). */
export function filterBody(filter: IdFilter | undefined): Record<string, unknown> {
  if (filter === undefined) return {};
  return filter.form === "customerIds" ? { customerIds: filter.ids } : { customerId: filter.id };
}

/** What one page of an answer to a filtered request shows. */
export type FilteredPage =
  /** Every record is one asked for, and totalCount fits in what was asked: it may be filtered. */
  | { kind: "filtered"; totalCount: number; ids: string[] }
  /** Records of customers not asked for, or more than were asked: the filter was ignored. */
  | { kind: "ignored" };

/**
 * Whether a page can be the answer of a server that applied the filter. A server that
 * ignored it sends a page of all customers: a record not asked for shows that, and so does
 * a totalCount larger than the number of ids asked (the records on an unfiltered page of a
 * big list may all happen to be among the ids). A record without a readable id cannot be
 * one asked for.
 */
export function judgeFilteredPage(page: PageEnvelope, asked: ReadonlySet<string>): FilteredPage {
  const ids: string[] = [];
  for (const record of page.data) {
    const id = isObject(record) ? record.id : undefined;
    if (typeof id !== "string" || !asked.has(id)) return { kind: "ignored" };
    ids.push(id);
  }
  if (page.metadata.totalCount > asked.size) return { kind: "ignored" };
  return { kind: "filtered", totalCount: page.metadata.totalCount, ids };
}
