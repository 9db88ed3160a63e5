-- The mass-removal guard: a complete run that would mark too many customers removed
-- removes none, succeeds, and says so on its row.

-- How many customers the run would have marked removed but did not (the guard held them back).
ALTER TABLE "sync_runs" ADD COLUMN "removals_withheld" INTEGER NOT NULL DEFAULT 0;
-- Something an operator should look at although the run succeeded.
ALTER TABLE "sync_runs" ADD COLUMN "warning" TEXT;

-- New columns go last: CREATE OR REPLACE VIEW may only append.
CREATE OR REPLACE VIEW "reporting"."sync_runs" AS
SELECT r.id AS run_id,
       r.started_at,
       r.finished_at,
       round(extract(epoch FROM r.finished_at - r.started_at), 3) AS duration_seconds,
       r.status,
       CASE WHEN r.status <> 'succeeded' THEN r.status
            WHEN r.complete THEN 'complete'
            ELSE 'incomplete'
       END AS outcome,
       coalesce(r.error, r.incomplete_reason) AS outcome_reason,
       r.customer_filter,
       r.api_total_count,
       r.pages_fetched,
       r.customers_seen,
       r.tenants_seen,
       r.customers_added,
       r.customers_removed,
       r.customers_restored,
       r.status_changes,
       r.rejected_records,
       r.removals_withheld,
       r.warning
FROM sync_runs r;
