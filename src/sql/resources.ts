// The statements of the passes over the resources a run syncs after customers (services and
// backup jobs: src/sync/services-pass.ts, jobs-pass.ts), beside the merge statements the
// entity declarations build (src/sql/merge/), and the run's record of each resource.
import type { Queryable } from "../db.ts";
import type { ResourceName } from "../elements/resources.ts";

/**
 * The customers the services pass has listed, each once: which of a page's are listed
 * again (offset paging repeated them), and whose subscriptions a complete pass removes
 * because the pass never listed the customer at all.
 */
export async function createServicesListedTable(session: Queryable): Promise<void> {
  await session.query(
    `CREATE TEMP TABLE merge_services_listed (customer_id text PRIMARY KEY) ON COMMIT DROP`,
  );
}

/** Records `ids` as listed by the services pass; returns those listed for the first time. */
export async function recordServicesListed(
  session: Queryable,
  ids: readonly string[],
): Promise<Set<string>> {
  const { rows } = await session.query<{ customer_id: string }>(
    `INSERT INTO merge_services_listed (customer_id) SELECT unnest($1::text[])
     ON CONFLICT (customer_id) DO NOTHING
     RETURNING customer_id`,
    [ids],
  );
  return new Set(rows.map((row) => row.customer_id));
}

/**
 * Those of `ids` the run's customers pass saw (staging_customers): the customers whose
 * subscriptions and jobs it may store. Any other is unknown to the database (the services
 * endpoint listed it after the customers pass, or its record was rejected) or not present.
 */
export async function seenByRun(
  session: Queryable,
  runId: number,
  ids: readonly string[],
): Promise<Set<string>> {
  const { rows } = await session.query<{ id: string }>(
    `SELECT id FROM staging_customers WHERE run_id = $1::int AND id = ANY ($2::text[])`,
    [runId, ids],
  );
  return new Set(rows.map((row) => row.id));
}

/** Present subscriptions: the base of the services pass's mass-removal guard. */
export async function countPresentSubscriptions(session: Queryable): Promise<number> {
  const { rows } = await session.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM subscriptions WHERE removed_at IS NULL`,
  );
  return rows[0]?.n ?? 0;
}

/**
 * A complete services pass: the present subscriptions of customers it never listed join
 * those their customers no longer list (noted page by page), to be removed at the run's end.
 */
export async function collectSubscriptionsOfUnlisted(session: Queryable): Promise<void> {
  await session.query(
    `INSERT INTO merge_removed_subscriptions (customer_id, service, source, subscription_name)
     SELECT t.customer_id, t.service, t.source, t.subscription_name
     FROM subscriptions t
     WHERE t.removed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM merge_services_listed l WHERE l.customer_id = t.customer_id)
     ON CONFLICT DO NOTHING`,
  );
}

/** Subscriptions noted for removal so far. */
export async function countNotedSubscriptions(session: Queryable): Promise<number> {
  const { rows } = await session.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM merge_removed_subscriptions`,
  );
  return rows[0]?.n ?? 0;
}

/** A pass that cannot tell which subscriptions are gone forgets what it noted. */
export async function forgetNotedSubscriptions(session: Queryable): Promise<void> {
  await session.query(`DELETE FROM merge_removed_subscriptions`);
}

/**
 * The next `limit` customers after `after` (in id order) whose backup jobs the run asks
 * for: those its customers pass saw, with one of `statuses` as job status when given.
 */
export async function customersForJobs(
  session: Queryable,
  query: { runId: number; statuses: readonly number[] | null; after: string; limit: number },
): Promise<string[]> {
  const { rows } = await session.query<{ id: string }>(
    `SELECT s.id
     FROM staging_customers s
     JOIN customers c ON c.id = s.id
     WHERE s.run_id = $1::int AND s.id > $2::text
       AND ($3::int[] IS NULL OR c.job_status = ANY ($3::int[]))
     ORDER BY s.id
     LIMIT $4::int`,
    [query.runId, query.after, query.statuses, query.limit],
  );
  return rows.map((row) => row.id);
}

/** What a run did with one resource (sync_run_resources). */
export interface ResourceRecord {
  resource: ResourceName;
  outcome: "complete" | "partial" | "skipped";
  /** Why not complete; null when complete. */
  reason: string | null;
  /** API requests, retries included, token requests not. */
  requests: number;
  /** Records received: customers, products (services), jobs. */
  records: number;
  rejected: number;
}

export async function recordResources(
  session: Queryable,
  runId: number,
  records: readonly ResourceRecord[],
): Promise<void> {
  if (records.length === 0) return;
  await session.query(
    `INSERT INTO sync_run_resources (run_id, resource, outcome, reason, requests, records, rejected)
     SELECT $1::int, r.resource, r.outcome, r.reason, r.requests, r.records, r.rejected
     FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[])
       AS r(resource, outcome, reason, requests, records, rejected)
     ON CONFLICT (run_id, resource) DO UPDATE
       SET outcome = excluded.outcome, reason = excluded.reason, requests = excluded.requests,
           records = excluded.records, rejected = excluded.rejected`,
    [
      runId,
      records.map((r) => r.resource),
      records.map((r) => r.outcome),
      records.map((r) => r.reason),
      records.map((r) => r.requests),
      records.map((r) => r.records),
      records.map((r) => r.rejected),
    ],
  );
}
