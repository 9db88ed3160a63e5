-- What every column of the reporting views means, where BI tools and psql (\d+) look for it:
-- the column's comment. Each one is README.md's meaning for the column ("The reporting
-- views"), markdown code marks left out; test/readme.test.ts holds the two together.
-- CREATE OR REPLACE VIEW keeps these comments; a later migration that drops and creates a
-- view again must comment its columns again (the same test fails until it does).

-- reporting.customers
COMMENT ON COLUMN "reporting"."customers"."customer_id" IS 'the Elements customer id';
COMMENT ON COLUMN "reporting"."customers"."organization" IS 'organization name; null if the API gave none';
COMMENT ON COLUMN "reporting"."customers"."owner_email" IS 'the customer''s email address; null if none';
COMMENT ON COLUMN "reporting"."customers"."country_or_region" IS 'country or region; null if none';
COMMENT ON COLUMN "reporting"."customers"."job_status" IS 'current (for a removed customer: last known) job status code';
COMMENT ON COLUMN "reporting"."customers"."job_status_label" IS 'label of job_status';
COMMENT ON COLUMN "reporting"."customers"."management_mode" IS 'current (or last known) management mode code';
COMMENT ON COLUMN "reporting"."customers"."management_mode_label" IS 'label of management_mode';
COMMENT ON COLUMN "reporting"."customers"."job_status_since" IS 'start of the run since which the customer has had this job status (a new management mode does not reset it); null for a removed one';
COMMENT ON COLUMN "reporting"."customers"."tenant_count" IS 'tenants it has now (not removed)';
COMMENT ON COLUMN "reporting"."customers"."first_seen_at" IS 'start of the run that first saw it';
COMMENT ON COLUMN "reporting"."customers"."last_seen_at" IS 'start of the last run that saw it';
COMMENT ON COLUMN "reporting"."customers"."removed" IS 'true while it is absent from the API';
COMMENT ON COLUMN "reporting"."customers"."removed_at" IS 'when a complete run found it gone; null while present';

-- reporting.tenants
COMMENT ON COLUMN "reporting"."tenants"."customer_id" IS 'the customer the tenant belongs to';
COMMENT ON COLUMN "reporting"."tenants"."organization" IS 'the customer''s organization name; null if none';
COMMENT ON COLUMN "reporting"."tenants"."tenant_id" IS 'the tenant id';
COMMENT ON COLUMN "reporting"."tenants"."tenant_name" IS 'tenant name as last seen; null if none';
COMMENT ON COLUMN "reporting"."tenants"."first_seen_at" IS 'start of the run that first saw it';
COMMENT ON COLUMN "reporting"."tenants"."last_seen_at" IS 'start of the last run that saw it';
COMMENT ON COLUMN "reporting"."tenants"."removed" IS 'true while it is absent from its customer';
COMMENT ON COLUMN "reporting"."tenants"."removed_at" IS 'when a complete run found it gone; null while present';

-- reporting.job_status_changes
COMMENT ON COLUMN "reporting"."job_status_changes"."changed_at" IS 'start of the run that saw the change';
COMMENT ON COLUMN "reporting"."job_status_changes"."run_id" IS 'the run that saw the change';
COMMENT ON COLUMN "reporting"."job_status_changes"."customer_id" IS 'the customer that changed';
COMMENT ON COLUMN "reporting"."job_status_changes"."organization" IS 'the customer''s organization name (as last seen); null if none';
COMMENT ON COLUMN "reporting"."job_status_changes"."change_kind" IS 'added (first seen), removed (absent from a complete run), restored (back after a removal) or changed (new job status or management mode)';
COMMENT ON COLUMN "reporting"."job_status_changes"."previous_job_status" IS 'job status before the change; null when added';
COMMENT ON COLUMN "reporting"."job_status_changes"."previous_job_status_label" IS 'label of previous_job_status; null when added';
COMMENT ON COLUMN "reporting"."job_status_changes"."job_status" IS 'job status after the change (for removed: the last known one, unchanged)';
COMMENT ON COLUMN "reporting"."job_status_changes"."job_status_label" IS 'label of job_status';
COMMENT ON COLUMN "reporting"."job_status_changes"."previous_management_mode" IS 'management mode before the change; null when added';
COMMENT ON COLUMN "reporting"."job_status_changes"."previous_management_mode_label" IS 'label of previous_management_mode; null when added';
COMMENT ON COLUMN "reporting"."job_status_changes"."management_mode" IS 'management mode after the change';
COMMENT ON COLUMN "reporting"."job_status_changes"."management_mode_label" IS 'label of management_mode';
COMMENT ON COLUMN "reporting"."job_status_changes"."job_status_changed" IS 'true when the change moved the customer into job_status: added, restored, or a different job status than before; false for removals and changes of management mode alone';
COMMENT ON COLUMN "reporting"."job_status_changes"."management_mode_changed" IS 'true when the change moved the customer into management_mode: added, restored, or a different management mode than before; false for removals and changes of job status alone';

-- reporting.job_status_daily
COMMENT ON COLUMN "reporting"."job_status_daily"."day" IS 'a calendar day of the session''s time zone (SHOW timezone)';
COMMENT ON COLUMN "reporting"."job_status_daily"."job_status" IS 'job status code';
COMMENT ON COLUMN "reporting"."job_status_daily"."job_status_label" IS 'label of job_status';
COMMENT ON COLUMN "reporting"."job_status_daily"."customers" IS 'customers present with that job status at the end of the day (at midnight)';

-- reporting.customer_status_at_run
COMMENT ON COLUMN "reporting"."customer_status_at_run"."run_id" IS 'a succeeded run';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."run_started_at" IS 'start of that run';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."customer_id" IS 'a customer present then';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."organization" IS 'the customer''s organization name (as last seen); null if none';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."job_status" IS 'the customer''s job status at that run';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."job_status_label" IS 'label of job_status';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."management_mode" IS 'the customer''s management mode at that run';
COMMENT ON COLUMN "reporting"."customer_status_at_run"."management_mode_label" IS 'label of management_mode';

-- reporting.sync_runs
COMMENT ON COLUMN "reporting"."sync_runs"."run_id" IS 'run number';
COMMENT ON COLUMN "reporting"."sync_runs"."started_at" IS 'when it started';
COMMENT ON COLUMN "reporting"."sync_runs"."finished_at" IS 'when it ended; null while running';
COMMENT ON COLUMN "reporting"."sync_runs"."duration_seconds" IS 'finished_at - started_at in seconds, to the millisecond; null while running';
COMMENT ON COLUMN "reporting"."sync_runs"."status" IS 'running, succeeded, failed or abandoned';
COMMENT ON COLUMN "reporting"."sync_runs"."outcome" IS 'complete or incomplete for a succeeded run (it saw every customer, or not), else the status';
COMMENT ON COLUMN "reporting"."sync_runs"."outcome_reason" IS 'why a run failed, was abandoned or was incomplete; null otherwise';
COMMENT ON COLUMN "reporting"."sync_runs"."customer_filter" IS 'the customer id of a --customer run; null otherwise';
COMMENT ON COLUMN "reporting"."sync_runs"."api_total_count" IS 'totalCount the API reported; null if it never answered';
COMMENT ON COLUMN "reporting"."sync_runs"."pages_fetched" IS 'pages fetched';
COMMENT ON COLUMN "reporting"."sync_runs"."customers_seen" IS 'distinct customers fetched and accepted';
COMMENT ON COLUMN "reporting"."sync_runs"."tenants_seen" IS 'tenants of those customers';
COMMENT ON COLUMN "reporting"."sync_runs"."customers_added" IS 'customers seen for the first time';
COMMENT ON COLUMN "reporting"."sync_runs"."customers_removed" IS 'customers marked removed';
COMMENT ON COLUMN "reporting"."sync_runs"."customers_restored" IS 'removed customers that came back';
COMMENT ON COLUMN "reporting"."sync_runs"."status_changes" IS 'present customers whose job status or management mode changed';
COMMENT ON COLUMN "reporting"."sync_runs"."rejected_records" IS 'records rejected by validation';
COMMENT ON COLUMN "reporting"."sync_runs"."removals_withheld" IS 'customers the mass-removal guard kept from being marked removed';
COMMENT ON COLUMN "reporting"."sync_runs"."warning" IS 'why a succeeded run needs a look (the mass-removal guard held removals back); null otherwise';
