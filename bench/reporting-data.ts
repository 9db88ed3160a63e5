// The reporting bench's data (bench/reporting.ts): 100,000 customers with a year of nightly
// runs, their tenants, subscriptions and backup jobs, built in SQL with generate_series
// rather than synced through the API, in the shape the sync leaves them.
import type pg from "pg";

/** How much to build: customers, nights, and job-status changes per customer on average. */
export interface BuildSettings {
  customers: number;
  days: number;
  changes: number;
}

/**
 * A history that keeps every invariant the sync guarantees: one run a night (the last a
 * minute ago), each customer's periods back to back, consecutive periods different, a
 * removed period only between present ones or at the end, codes kept while removed.
 */
const BUILD_STEPS: { what: string; sql: string }[] = [
  {
    what: "nightly runs",
    sql: `
      INSERT INTO sync_runs (id, started_at, finished_at, status, complete, api_total_count,
                             pages_fetched, customers_seen, tenants_seen)
      SELECT i, now() - interval '1 minute' - ($2::int - i) * interval '1 day',
             now() - interval '1 minute' - ($2::int - i) * interval '1 day' + interval '4 minutes',
             'succeeded', true, $1::int, ceil($1::int / 100.0), $1::int, 2 * $1::int
      FROM generate_series(1, $2::int) AS i;
      SELECT setval('sync_runs_id_seq', $2::int);`,
  },
  {
    what: "change points",
    // Run 1 sees everyone; then about $3 changes per customer at random later runs.
    sql: `
      CREATE UNLOGGED TABLE bench_points AS
      SELECT n, 1 AS run FROM generate_series(1, $1::int) AS n
      UNION
      SELECT n, 2 + floor(random() * ($2::int - 1))::int
      FROM generate_series(1, $1::int) AS n
      CROSS JOIN LATERAL generate_series(1, floor(random() * (2 * $3::int + 1))::int + 0 * n) AS k
      WHERE $2::int > 1`,
  },
  {
    what: "periods",
    // A removed period only at an even position, so two never follow each other; it keeps
    // the codes of the period before it (offset 0), every other period moves to another status.
    sql: `
      CREATE UNLOGGED TABLE bench_periods AS
      WITH numbered AS (
        SELECT n, run, row_number() OVER w AS pos, lead(run) OVER w AS next_run
        FROM bench_points WINDOW w AS (PARTITION BY n ORDER BY run)
      ), flagged AS (
        SELECT *, pos % 2 = 0 AND random() < 0.06 AS removed,
               1 + floor(random() * 6)::int AS step, floor(random() * 7)::int AS first_status,
               (n % 3) AS mode
        FROM numbered
      )
      SELECT n, run, next_run, removed, mode,
             (first_value(first_status) OVER w
              + sum(CASE WHEN removed OR pos = 1 THEN 0 ELSE step END) OVER w) % 7 AS job_status
      FROM flagged
      WINDOW w AS (PARTITION BY n ORDER BY run ROWS UNBOUNDED PRECEDING)`,
  },
  {
    what: "customers",
    sql: `
      INSERT INTO customers (id, organization, owner_email, job_status, country_or_region,
                             management_mode, first_seen_at, last_seen_at, removed_at)
      SELECT md5('customer ' || p.n)::uuid::text, 'Organization ' || p.n, 'admin' || p.n || '@example.com',
             p.job_status, 'US', p.mode, first_run.started_at,
             CASE WHEN p.removed THEN seen.started_at ELSE last_run.started_at END,
             CASE WHEN p.removed THEN r.started_at END
      FROM bench_periods p
      JOIN sync_runs r ON r.id = p.run
      JOIN sync_runs seen ON seen.id = greatest(p.run - 1, 1)
      CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 1) first_run
      CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = $2::int) last_run
      WHERE p.next_run IS NULL`,
  },
  {
    what: "history",
    // In the order the merge leaves rows in the table: a period is last written by the run
    // that closed it (or opened it, while open), so a run's rows lie together.
    sql: `
      INSERT INTO customer_status_history (customer_id, job_status, management_mode, removed,
                                           valid_from, valid_to, opened_by_run_id, closed_by_run_id)
      SELECT md5('customer ' || p.n)::uuid::text, p.job_status, p.mode, p.removed,
             r.started_at, nr.started_at, p.run, p.next_run
      FROM bench_periods p
      JOIN sync_runs r ON r.id = p.run
      LEFT JOIN sync_runs nr ON nr.id = p.next_run
      ORDER BY coalesce(p.next_run, p.run), p.n`,
  },
  {
    what: "tenants",
    sql: `
      INSERT INTO tenants (customer_id, id, name, first_seen_at, last_seen_at, removed_at)
      SELECT c.id, md5(c.id || ' tenant ' || k)::uuid::text, 'tenant-' || k || '.onmicrosoft.com',
             c.first_seen_at, c.last_seen_at, c.removed_at
      FROM customers c CROSS JOIN generate_series(1, 2) AS k`,
  },
  {
    what: "renames",
    // About one tenant in three renamed once or twice, at runs while it is present.
    sql: `
      CREATE UNLOGGED TABLE bench_tenant_periods AS
      WITH t AS (
        SELECT t.customer_id, t.id AS tenant_id, t.name, o.id AS first_run,
               coalesce(rm.id, $2::int + 1) AS end_run, rm.id IS NOT NULL AS gone
        FROM tenants t
        JOIN sync_runs o ON o.started_at = t.first_seen_at
        LEFT JOIN sync_runs rm ON rm.started_at = t.removed_at
      ), points AS (
        SELECT customer_id, tenant_id, name, first_run AS run, 'seen' AS kind FROM t
        UNION
        SELECT t.customer_id, t.tenant_id, t.name,
               t.first_run + 1 + floor(random() * (t.end_run - t.first_run - 1))::int, 'renamed'
        FROM t
        CROSS JOIN LATERAL generate_series(1, CASE WHEN random() < 0.1 THEN 2
                                                   WHEN random() < 0.25 THEN 1 ELSE 0 END
                                              + 0 * t.first_run) AS k
        WHERE t.end_run - t.first_run > 1
        UNION
        SELECT customer_id, tenant_id, name, end_run, 'removed' FROM t WHERE gone
      ), versioned AS (
        SELECT *, lead(run) OVER w AS next_run,
               count(*) FILTER (WHERE kind = 'renamed') OVER w AS version
        FROM points
        WINDOW w AS (PARTITION BY customer_id, tenant_id ORDER BY run
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      )
      SELECT customer_id, tenant_id, kind = 'removed' AS removed, run, next_run,
             CASE WHEN version = 0 THEN name
                  ELSE replace(name, '.onmicrosoft.com', '-renamed-' || version || '.onmicrosoft.com')
             END AS name
      FROM versioned;
      UPDATE tenants t SET name = p.name
      FROM bench_tenant_periods p
      WHERE p.customer_id = t.customer_id AND p.tenant_id = t.id AND p.next_run IS NULL
        AND p.name <> t.name`,
  },
  {
    what: "attr history",
    // As the attribute_history migration fills customer_history: the status periods, with
    // the current organization, owner email and country. Tenants: their periods, renames
    // included. Both in the order the merge writes rows: a period's row is last written
    // by the run that closed it (or opened it, while open).
    sql: `
      INSERT INTO customer_history (customer_id, organization, owner_email, country_or_region,
                                    job_status, management_mode, removed, valid_from, valid_to,
                                    opened_by_run_id, closed_by_run_id)
      SELECT h.customer_id, c.organization, c.owner_email, c.country_or_region, h.job_status,
             h.management_mode, h.removed, h.valid_from, h.valid_to, h.opened_by_run_id,
             h.closed_by_run_id
      FROM customer_status_history h JOIN customers c ON c.id = h.customer_id
      ORDER BY coalesce(h.closed_by_run_id, h.opened_by_run_id), h.id;
      INSERT INTO tenant_history (customer_id, tenant_id, name, removed, valid_from, valid_to,
                                  opened_by_run_id, closed_by_run_id)
      SELECT p.customer_id, p.tenant_id, p.name, p.removed, o.started_at, cl.started_at,
             p.run, p.next_run
      FROM bench_tenant_periods p
      JOIN sync_runs o ON o.id = p.run
      LEFT JOIN sync_runs cl ON cl.id = p.next_run
      ORDER BY coalesce(p.next_run, p.run), p.customer_id, p.tenant_id`,
  },
  {
    what: "sub periods",
    // Two subscriptions a customer: Microsoft 365 seats and IaaS units, each expiring once a
    // year at midnight UTC (first expiry spread over the year after run 1). The first run at
    // or after an expiry renews it (a year later, units or seats up) or, one in twenty,
    // removes it for good; Microsoft 365 seats also grow at 0-6 runs between renewals.
    sql: `
      CREATE UNLOGGED TABLE bench_sub_periods AS
      WITH subs AS (
        SELECT n, k, random() < 0.05 AS lapses,
               (date_trunc('day', r.started_at AT TIME ZONE 'UTC')
                + (1 + floor(random() * 365)::int + 0 * n) * interval '1 day') AT TIME ZONE 'UTC'
                 AS first_expiry, r.started_at AS run_1
        FROM generate_series(1, $1::int) AS n
        CROSS JOIN generate_series(1, 2) AS k
        CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 1) r
      ), expiries AS (
        -- Runs are a day apart: the first at or after an expiry, by arithmetic.
        SELECT s.n, s.k, s.lapses, e.j,
               nullif(least(1 + ceil(extract(epoch FROM s.first_expiry + e.j * interval '365 days'
                                                       - s.run_1) / 86400)::int,
                            $2::int + 1), $2::int + 1) AS run
        FROM subs s
        CROSS JOIN LATERAL generate_series(0, CASE WHEN s.lapses THEN 0 ELSE $2::int / 365 END
                                              + 0 * s.n) AS e(j)
      ), ends AS (
        SELECT n, k, run AS removed_run FROM expiries WHERE lapses AND run IS NOT NULL
      ), points AS (
        SELECT n, k, 1 AS run, 'seen' AS kind FROM subs
        UNION ALL
        SELECT n, k, run, CASE WHEN lapses THEN 'removed' ELSE 'renewed' END
        FROM expiries WHERE run IS NOT NULL
        UNION ALL
        SELECT s.n, s.k, 2 + floor(random() * ($2::int - 1))::int, 'seats'
        FROM subs s
        CROSS JOIN LATERAL generate_series(1, floor(random() * 7)::int + 0 * s.n) AS g
        WHERE s.k = 1 AND $2::int > 1
      ), runs AS (
        SELECT p.n, p.k, p.run,
               count(*) FILTER (WHERE kind = 'renewed') AS renewals,
               count(*) FILTER (WHERE kind = 'seats') AS steps,
               bool_or(kind = 'removed') AS removed
        FROM points p LEFT JOIN ends e USING (n, k)
        -- A removal keeps the values before it: no seat change at or after it.
        WHERE e.removed_run IS NULL OR p.run < e.removed_run OR p.kind = 'removed'
        GROUP BY p.n, p.k, p.run
      )
      SELECT r.n, r.k, r.run, lead(r.run) OVER w AS next_run, r.removed,
             s.first_expiry + sum(r.renewals) OVER w * interval '365 days' AS expiration_date,
             CASE WHEN r.k = 1 THEN 10 + (r.n % 50) * 5 + 5 * sum(r.renewals) OVER w
                                    + 3 * sum(r.steps) OVER w END AS seats,
             CASE WHEN r.k = 2 THEN 100 + (r.n % 10) * 50 + 50 * sum(r.renewals) OVER w END AS units
      FROM runs r JOIN subs s USING (n, k)
      WINDOW w AS (PARTITION BY r.n, r.k ORDER BY r.run ROWS UNBOUNDED PRECEDING)`,
  },
  {
    what: "subscriptions",
    sql: `
      INSERT INTO subscriptions (customer_id, service, source, subscription_name,
                                 subscription_model, purchased_user_seats, purchased_units,
                                 expiration_date, payment_type, package, source_record,
                                 first_seen_at, last_seen_at, removed_at)
      SELECT md5('customer ' || p.n)::uuid::text,
             CASE p.k WHEN 1 THEN 'Cloud Backup for Microsoft 365 - User'
                      ELSE 'Cloud Backup for IaaS + PaaS - Unit' END,
             CASE p.k WHEN 1 THEN 'AvePoint pooled subscription' ELSE '' END, '',
             'Subscription', p.seats, p.units, p.expiration_date, 'Prepaid',
             CASE p.k WHEN 1 THEN 'Standard' END, '{"bench": true}'::jsonb,
             first_run.started_at,
             CASE WHEN p.removed THEN seen.started_at ELSE last_run.started_at END,
             CASE WHEN p.removed THEN r.started_at END
      FROM bench_sub_periods p
      JOIN sync_runs r ON r.id = p.run
      JOIN sync_runs seen ON seen.id = greatest(p.run - 1, 1)
      CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = 1) first_run
      CROSS JOIN (SELECT started_at FROM sync_runs WHERE id = $2::int) last_run
      WHERE p.next_run IS NULL;
      INSERT INTO subscription_history (customer_id, service, source, subscription_name,
                                        subscription_model, purchased_user_seats,
                                        purchased_units, expiration_date, payment_type,
                                        package, removed, valid_from, valid_to,
                                        opened_by_run_id, closed_by_run_id)
      SELECT md5('customer ' || p.n)::uuid::text,
             CASE p.k WHEN 1 THEN 'Cloud Backup for Microsoft 365 - User'
                      ELSE 'Cloud Backup for IaaS + PaaS - Unit' END,
             CASE p.k WHEN 1 THEN 'AvePoint pooled subscription' ELSE '' END, '',
             'Subscription', p.seats, p.units, p.expiration_date, 'Prepaid',
             CASE p.k WHEN 1 THEN 'Standard' END, p.removed, r.started_at, nr.started_at,
             p.run, p.next_run
      FROM bench_sub_periods p
      JOIN sync_runs r ON r.id = p.run
      LEFT JOIN sync_runs nr ON nr.id = p.next_run
      ORDER BY coalesce(p.next_run, p.run), p.n, p.k`,
  },
  {
    what: "job periods",
    // Three backup jobs a customer, Finished at first; then failures (or other statuses) at
    // random runs, each but one in ten followed by a return to Finished at a later one.
    sql: `
      CREATE UNLOGGED TABLE bench_job_periods AS
      WITH points AS (
        SELECT n, j, 1 AS run FROM generate_series(1, $1::int) AS n CROSS JOIN generate_series(1, 3) AS j
        UNION
        SELECT n, j, 2 + floor(random() * ($2::int - 1))::int
        FROM generate_series(1, $1::int) AS n
        CROSS JOIN generate_series(1, 3) AS j
        CROSS JOIN LATERAL generate_series(1, 2 * floor(random() * 4)::int
                                              + (random() < 0.1)::int + 0 * n + 0 * j) AS g
        WHERE $2::int > 1
      ), numbered AS (
        SELECT n, j, run, row_number() OVER w AS pos, lead(run) OVER w AS next_run
        FROM points WINDOW w AS (PARTITION BY n, j ORDER BY run)
      )
      SELECT n, j, run, next_run,
             CASE WHEN pos % 2 = 1 THEN 2
                  ELSE (ARRAY[3, 4, 7, 3, 4, 1, 5, 8])[1 + floor(random() * 8)::int] END AS status
      FROM numbered`,
  },
  {
    what: "backup jobs",
    sql: `
      INSERT INTO backup_jobs (customer_id, job_id, status, job_type, job_module, name,
                               total_count, failed_count, successful_count, skipped_count,
                               warning_count, backup_size, start_time, end_time,
                               last_modified_at, job_duration, source_record, first_seen_at,
                               last_seen_at)
      SELECT c.id, md5(c.id || ' job ' || p.j)::uuid::text, p.status, 7,
             (ARRAY[302, 303, 305])[p.j], 'Job ' || p.j, 1000 + p.n % 1000,
             CASE WHEN p.status IN (3, 4, 7) THEN 1 + p.n % 50 ELSE 0 END,
             1000 + p.n % 1000 - CASE WHEN p.status IN (3, 4, 7) THEN 1 + p.n % 50 ELSE 0 END,
             0, 0, '12 GB', c.last_seen_at - interval '3 hours', c.last_seen_at - interval '2 hours',
             c.last_seen_at - interval '2 hours', '60m0s', '{"bench": true}'::jsonb,
             c.first_seen_at, c.last_seen_at
      FROM bench_job_periods p
      JOIN customers c ON c.id = md5('customer ' || p.n)::uuid::text
      WHERE p.next_run IS NULL;
      INSERT INTO backup_job_status_history (customer_id, job_id, status, removed, valid_from,
                                             valid_to, opened_by_run_id, closed_by_run_id)
      SELECT md5('customer ' || p.n)::uuid::text,
             md5(md5('customer ' || p.n)::uuid::text || ' job ' || p.j)::uuid::text,
             p.status, false, r.started_at, nr.started_at, p.run, p.next_run
      FROM bench_job_periods p
      JOIN sync_runs r ON r.id = p.run
      LEFT JOIN sync_runs nr ON nr.id = p.next_run
      ORDER BY coalesce(p.next_run, p.run), p.n, p.j`,
  },
  {
    what: "cleanup",
    sql: "DROP TABLE bench_points, bench_periods, bench_tenant_periods, bench_sub_periods, bench_job_periods",
  },
];

/** Builds the history in the (migrated, empty) database `client` is connected to. */
export async function build(client: pg.Client, settings: BuildSettings): Promise<void> {
  for (const step of BUILD_STEPS) {
    const started = performance.now();
    // Multi-statement steps go through the simple protocol, so parameters are inlined
    // (they are integers this script parsed).
    const sql = step.sql
      .replaceAll("$1::int", String(settings.customers))
      .replaceAll("$2::int", String(settings.days))
      .replaceAll("$3::int", String(settings.changes));
    await client.query(sql);
    console.log(`  ${step.what.padEnd(14)} ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await client.query("VACUUM ANALYZE");
}

/** What the bench built, as the results name it: customers' history periods, tenants, ... */
export const COUNTS = {
  periods: "customer_status_history",
  tenants: "tenants",
  subscriptions: "subscriptions",
  subscriptionPeriods: "subscription_history",
  backupJobs: "backup_jobs",
  backupJobPeriods: "backup_job_status_history",
} as const;
