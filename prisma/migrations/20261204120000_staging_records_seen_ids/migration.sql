-- Staging keeps one job: the record of which customer ids a run has seen (new-id detection
-- for paging, progress visible from outside, counts of a failed run). The merge takes the
-- records themselves from memory, so their columns and staging_tenants (kept empty since the
-- merge took batches from memory) are no longer written. Scratch data: nothing is lost.
DROP TABLE "staging_tenants";

ALTER TABLE "staging_customers"
    DROP COLUMN "organization",
    DROP COLUMN "owner_email",
    DROP COLUMN "job_status",
    DROP COLUMN "country_or_region",
    DROP COLUMN "management_mode",
    DROP COLUMN "source_record";
