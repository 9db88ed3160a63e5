// The history invariants every end-to-end test checks after every run. Each query
// returns the rows that break one rule; all must be empty.
import { expect } from "vitest";
import type { TestDatabase } from "./database.ts";

const VIOLATIONS: Record<string, string> = {
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
  "staging is empty between runs": `
    SELECT run_id FROM staging_customers UNION ALL SELECT run_id FROM staging_tenants`,
  "an incomplete or failed run removed nothing": `
    SELECT h.id FROM customer_status_history h
    JOIN sync_runs r ON r.id = h.opened_by_run_id
    WHERE h.removed AND NOT (r.status = 'succeeded' AND r.complete)`,
};

export async function expectInvariants(db: TestDatabase): Promise<void> {
  const broken: Record<string, unknown[]> = {};
  for (const [rule, sql] of Object.entries(VIOLATIONS)) {
    const rows = await db.query(sql);
    if (rows.length > 0) broken[rule] = rows;
  }
  expect(broken).toEqual({});
}
