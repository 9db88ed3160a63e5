// The reads behind the demo's view of subscriptions and backup jobs, from the reporting
// views (the same rows a BI tool gets). Times as text in the session's time zone, days too.
import type { Queryable } from "../db.ts";

/** A present customer in a failing job status, and one of its failing jobs (or none). */
export interface FailingCustomerRow {
  customer_id: string;
  organization: string | null;
  job_status_label: string | null;
  job_id: string | null;
  name: string | null;
  job_module_label: string | null;
  job_module: number | null;
  status_label: string | null;
  status: number | null;
  failed_count: number | null;
  total_count: number | null;
}

export interface Limited<T> {
  rows: T[];
  /** How many rows there are in all. */
  total: number;
}

/** The first `limit` rows of reporting.failing_customers, by organization, and how many there are. */
export async function readFailingCustomers(
  db: Queryable,
  limit: number,
): Promise<Limited<FailingCustomerRow>> {
  const { rows } = await db.query<Limited<FailingCustomerRow>>(
    `SELECT (SELECT count(*)::int FROM reporting.failing_customers) AS total,
            (SELECT coalesce(json_agg(l), '[]') FROM (
               SELECT customer_id, organization, job_status_label, job_id, name, job_module_label,
                      job_module, status_label, status,
                      -- bigint: exact in JSON as numbers while below 2^53, as counts are.
                      failed_count::float8 AS failed_count, total_count::float8 AS total_count
               FROM reporting.failing_customers
               ORDER BY organization NULLS LAST, customer_id, status_since DESC NULLS LAST, job_id
               LIMIT $1
             ) l) AS rows`,
    [limit],
  );
  return rows[0] ?? { rows: [], total: 0 };
}

/** A present subscription that expires today or within the next days. */
export interface ExpiringRow {
  customer_id: string;
  organization: string | null;
  service: string | null;
  subscription_name: string | null;
  /** YYYY-MM-DD in the session's time zone. */
  expiration_day: string;
  days_until_expiration: number;
  purchased_user_seats: number | null;
}

/**
 * The first `limit` subscriptions of reporting.services expiring today or in the next `days`
 * days (calendar days of the session's time zone), soonest first, and how many there are.
 */
export async function readSubscriptionsExpiring(
  db: Queryable,
  query: { days: number; limit: number },
): Promise<Limited<ExpiringRow>> {
  const { rows } = await db.query<Limited<ExpiringRow>>(
    `WITH expiring AS (
       -- days_until_expiration BETWEEN 0 AND $1, written on the expiration's UTC day so
       -- that the index on it serves (subscriptions_expiration_day_idx).
       SELECT * FROM reporting.services
       WHERE (expiration_date AT TIME ZONE 'UTC')::date BETWEEN current_date AND current_date + $1::int
     )
     SELECT (SELECT count(*)::int FROM expiring) AS total,
            (SELECT coalesce(json_agg(l), '[]') FROM (
               SELECT customer_id, organization, service, subscription_name,
                      to_char(expiration_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS expiration_day,
                      days_until_expiration, purchased_user_seats
               FROM expiring
               ORDER BY expiration_date, organization NULLS LAST, customer_id, service
               LIMIT $2
             ) l) AS rows`,
    [query.days, query.limit],
  );
  return rows[0] ?? { rows: [], total: 0 };
}
