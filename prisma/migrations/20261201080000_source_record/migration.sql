-- Nothing the API sends is lost: each customer's record as last received, every field
-- included (its tenants list too), and the fields outside the documented set each run met.
-- Fields the worker does not know are kept current, not versioned: a field that changes on
-- every call (a timestamp) would otherwise open a history period every night.

-- Null for a customer last synced before this migration, until its next sync.
ALTER TABLE "customers" ADD COLUMN "source_record" JSONB;
-- Null only for rows staged by a worker older than this migration (staging is scratch).
ALTER TABLE "staging_customers" ADD COLUMN "source_record" JSONB;
-- Sorted names of the fields outside the documented set the run met (a tenant's field as
-- `tenants[].<field>`); empty when it met none, and on runs recorded before this migration.
ALTER TABLE "sync_runs" ADD COLUMN "new_fields" TEXT[] NOT NULL DEFAULT '{}';

-- New columns go last: CREATE OR REPLACE VIEW may only append. It keeps the view's grants
-- and the existing columns' comments; the new columns get theirs below.
CREATE OR REPLACE VIEW "reporting"."customers" AS
SELECT c.id AS customer_id,
       c.organization,
       c.owner_email,
       c.country_or_region,
       c.job_status,
       coalesce(js.label, 'unknown (' || c.job_status || ')') AS job_status_label,
       c.management_mode,
       coalesce(mm.label, 'unknown (' || c.management_mode || ')') AS management_mode_label,
       -- The end of the last period in another job status (or removed) is when this one began.
       CASE WHEN c.removed_at IS NULL THEN
         coalesce(
           (SELECT max(h.valid_to) FROM customer_status_history h
            WHERE h.customer_id = c.id AND (h.removed OR h.job_status <> c.job_status)),
           c.first_seen_at)
       END AS job_status_since,
       (SELECT count(*)::integer FROM tenants t
        WHERE t.customer_id = c.id AND t.removed_at IS NULL) AS tenant_count,
       c.first_seen_at,
       c.last_seen_at,
       c.removed_at IS NOT NULL AS removed,
       c.removed_at,
       c.source_record
FROM customers c
LEFT JOIN job_status_codes js ON js.code = c.job_status
LEFT JOIN management_mode_codes mm ON mm.code = c.management_mode;

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
       r.warning,
       r.new_fields
FROM sync_runs r;

-- README.md's meanings, without the code marks (test/readme.e2e.test.ts holds them together).
COMMENT ON COLUMN "reporting"."customers"."source_record" IS 'the customer''s record as the API last sent it, every field included (its tenants list too); null for a customer not synced since the upgrade that added it';
COMMENT ON COLUMN "reporting"."sync_runs"."new_fields" IS 'fields outside the documented set that the run met, sorted; a tenant''s field as tenants[].<field>; empty when none';
