// The history invariants every end-to-end test checks after every run. Each query
// returns the rows that break one rule; all must be empty.
import { expect } from "vitest";
import type { TestDatabase } from "./database.ts";

/** The period rules of one history table, for the entity its `key` columns name. */
function periodRules(
  table: string,
  key: string,
  entities: string,
  attributes: string,
  // Subscriptions are removed by a complete services pass (their own rule, below).
  { removedByCompleteRuns = true } = {},
): Record<string, string> {
  const joinOn = key
    .split(", ")
    .map((column) => `h.${column} = e.${column}`)
    .join(" AND ");
  const entityKey = key
    .split(", ")
    .map((column) => `e.${column}`)
    .join(", ");
  const previous = attributes
    .split(", ")
    .map((column) => `lag(${column}) OVER w`)
    .join(", ");
  return {
    [`${table}: exactly one open period per entity ever seen`]: `
      SELECT ${entityKey}, count(h.id) AS open_periods
      FROM (${entities}) e
      LEFT JOIN ${table} h ON ${joinOn} AND h.valid_to IS NULL
      GROUP BY ${entityKey} HAVING count(h.id) <> 1`,
    [`${table}: periods leave no gaps and never overlap`]: `
      SELECT * FROM (
        SELECT ${key}, valid_from, valid_to, closed_by_run_id,
               lead(valid_from) OVER w AS next_from, lead(opened_by_run_id) OVER w AS next_opened_by
        FROM ${table}
        WINDOW w AS (PARTITION BY ${key} ORDER BY valid_from, id)
      ) p
      WHERE valid_to IS DISTINCT FROM next_from OR closed_by_run_id IS DISTINCT FROM next_opened_by`,
    [`${table}: two consecutive periods always differ`]: `
      SELECT * FROM (
        SELECT ${key}, valid_from, row(${attributes}) AS now, row(${previous}) AS before,
               row_number() OVER w AS n
        FROM ${table}
        WINDOW w AS (PARTITION BY ${key} ORDER BY valid_from, id)
      ) p
      WHERE n > 1 AND now IS NOT DISTINCT FROM before`,
    ...(removedByCompleteRuns
      ? {
          [`${table}: an incomplete or failed run removed nothing`]: `
            SELECT h.id FROM ${table} h
            JOIN sync_runs r ON r.id = h.opened_by_run_id
            WHERE h.removed AND NOT (r.status = 'succeeded' AND r.complete)`,
        }
      : {}),
  };
}

const SUBSCRIPTION_ATTRIBUTES = [
  "subscription_model, purchased_user_seats, purchased_units, microsoft_license_assigned",
  "microsoft_license_available, purchased_capacity, protected_capacity, storage, retention",
  "consumed_storage, expiration_date, change, payment_type, package, contract_end_date",
].join(", ");

const VIOLATIONS: Record<string, string> = {
  ...periodRules(
    "customer_history",
    "customer_id",
    "SELECT id AS customer_id FROM customers",
    "organization, owner_email, country_or_region, job_status, management_mode, removed",
  ),
  ...periodRules(
    "tenant_history",
    "customer_id, tenant_id",
    "SELECT customer_id, id AS tenant_id FROM tenants",
    "name, removed",
  ),
  ...periodRules(
    "subscription_history",
    "customer_id, service, source, subscription_name",
    "SELECT customer_id, service, source, subscription_name FROM subscriptions",
    `${SUBSCRIPTION_ATTRIBUTES}, removed`,
    { removedByCompleteRuns: false },
  ),
  ...periodRules(
    "backup_job_status_history",
    "customer_id, job_id",
    "SELECT customer_id, job_id FROM backup_jobs",
    "status, removed",
  ),
  "subscriptions agree with their open subscription_history period": `
    SELECT t.customer_id, t.service FROM subscriptions t
    JOIN subscription_history h ON (h.customer_id, h.service, h.source, h.subscription_name)
       = (t.customer_id, t.service, t.source, t.subscription_name) AND h.valid_to IS NULL
    WHERE row(${SUBSCRIPTION_ATTRIBUTES.replace(/(\w+)/g, "t.$1")}, t.removed_at IS NOT NULL)
          IS DISTINCT FROM row(${SUBSCRIPTION_ATTRIBUTES.replace(/(\w+)/g, "h.$1")}, h.removed)`,
  "backup jobs agree with their open status period, and are never removed": `
    SELECT j.customer_id, j.job_id FROM backup_jobs j
    JOIN backup_job_status_history h ON h.customer_id = j.customer_id AND h.job_id = j.job_id
     AND h.valid_to IS NULL
    WHERE j.status IS DISTINCT FROM h.status OR h.removed OR j.removed_at IS NOT NULL`,
  "a subscription is removed only by a succeeded run, complete or with a complete services pass": `
    SELECT h.id FROM subscription_history h
    JOIN sync_runs r ON r.id = h.opened_by_run_id
    LEFT JOIN sync_run_resources s ON s.run_id = r.id AND s.resource = 'services'
    WHERE h.removed AND NOT (r.status = 'succeeded' AND (r.complete OR s.outcome = 'complete'))`,
  "a removed customer has no present subscription": `
    SELECT t.customer_id FROM subscriptions t JOIN customers c ON c.id = t.customer_id
    WHERE c.removed_at IS NOT NULL AND t.removed_at IS NULL`,
  "customers agree with their open customer_history period": `
    SELECT c.id FROM customers c
    JOIN customer_history h ON h.customer_id = c.id AND h.valid_to IS NULL
    WHERE (c.organization, c.owner_email, c.country_or_region, c.job_status,
           c.management_mode, c.removed_at IS NOT NULL)
          IS DISTINCT FROM (h.organization, h.owner_email, h.country_or_region, h.job_status,
                            h.management_mode, h.removed)`,
  "tenants agree with their open tenant_history period": `
    SELECT t.customer_id, t.id FROM tenants t
    JOIN tenant_history h ON h.customer_id = t.customer_id AND h.tenant_id = t.id
     AND h.valid_to IS NULL
    WHERE (t.name, t.removed_at IS NOT NULL) IS DISTINCT FROM (h.name, h.removed)`,
  // customer_status_history is customer_history without three attributes: at every instant
  // where either changes, both say the same status, and the status history changes only
  // where the status does.
  "customer_history and customer_status_history agree on status at every change": `
    SELECT x.customer_id, x.at FROM (
      SELECT customer_id, valid_from AS at FROM customer_history
      UNION SELECT customer_id, valid_from FROM customer_status_history
    ) x
    LEFT JOIN customer_history h ON h.customer_id = x.customer_id
     AND h.valid_from <= x.at AND (h.valid_to IS NULL OR h.valid_to > x.at)
    LEFT JOIN customer_status_history s ON s.customer_id = x.customer_id
     AND s.valid_from <= x.at AND (s.valid_to IS NULL OR s.valid_to > x.at)
    WHERE h.id IS NULL OR s.id IS NULL
       OR (h.job_status, h.management_mode, h.removed)
          IS DISTINCT FROM (s.job_status, s.management_mode, s.removed)`,
  "exactly one open period per customer ever seen": `
    SELECT c.id, count(h.id) AS open_periods
    FROM customers c
    LEFT JOIN customer_status_history h ON h.customer_id = c.id AND h.valid_to IS NULL
    GROUP BY c.id HAVING count(h.id) <> 1`,
  "periods leave no gaps and never overlap": `
    SELECT * FROM (
      SELECT customer_id, valid_from, valid_to, closed_by_run_id,
             lead(valid_from) OVER w AS next_from, lead(opened_by_run_id) OVER w AS next_opened_by
      FROM customer_status_history
      WINDOW w AS (PARTITION BY customer_id ORDER BY valid_from, id)
    ) p
    WHERE valid_to IS DISTINCT FROM next_from OR closed_by_run_id IS DISTINCT FROM next_opened_by`,
  "two consecutive periods always differ": `
    SELECT * FROM (
      SELECT customer_id, job_status, management_mode, removed,
             lag(job_status) OVER w AS prev_job, lag(management_mode) OVER w AS prev_mode,
             lag(removed) OVER w AS prev_removed
      FROM customer_status_history
      WINDOW w AS (PARTITION BY customer_id ORDER BY valid_from, id)
    ) p
    WHERE (job_status, management_mode, removed) = (prev_job, prev_mode, prev_removed)`,
  "customers agree with their open period": `
    SELECT c.id FROM customers c
    JOIN customer_status_history h ON h.customer_id = c.id AND h.valid_to IS NULL
    WHERE (c.job_status, c.management_mode, c.removed_at IS NOT NULL)
          IS DISTINCT FROM (h.job_status, h.management_mode, h.removed)`,
  "every finished run ends succeeded, failed or abandoned, with a reason if not succeeded": `
    SELECT id, status, error FROM sync_runs
    WHERE status NOT IN ('running', 'succeeded', 'failed', 'abandoned')
       OR (status IN ('failed', 'abandoned') AND error IS NULL)`,
  "no run is left running between runs": `SELECT id FROM sync_runs WHERE status = 'running'`,
  "staging is empty between runs": `SELECT run_id FROM staging_customers`,
  "an incomplete or failed run removed nothing": `
    SELECT h.id FROM customer_status_history h
    JOIN sync_runs r ON r.id = h.opened_by_run_id
    WHERE h.removed AND NOT (r.status = 'succeeded' AND r.complete)`,
};

export async function expectInvariants(db: TestDatabase): Promise<void> {
  const broken: Record<string, unknown[]> = {};
  // A database migrated only up to an earlier release (upgrade tests) lacks the newer tables.
  const [{ upgraded } = { upgraded: false }] = await db.query<{ upgraded: boolean }>(
    "SELECT to_regclass('subscription_history') IS NOT NULL AS upgraded",
  );
  for (const [rule, sql] of Object.entries(VIOLATIONS)) {
    if (!upgraded && /subscription|backup_job/.test(sql)) continue;
    const rows = await db.query(sql);
    if (rows.length > 0) broken[rule] = rows;
  }
  expect(broken).toEqual({});
}
