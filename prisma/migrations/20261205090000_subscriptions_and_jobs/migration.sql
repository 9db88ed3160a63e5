-- Subscriptions and backup jobs (issue 23): what each customer pays for, and which backup
-- jobs failed, with history the way customers have it; and per run, what each resource
-- (customers, services, jobs) got. Tables keep the merge's conventions (customers and
-- tenants; src/sql/merge/entity.ts), views the reporting schema's (every column commented).

-- ---------------------------------------------------------------------------------------
-- Code tables, seeded from the documentation (../shared reference: "Subscriptions and backup
-- jobs"); src/elements/codes.ts holds the same values (a test checks they agree). A code
-- missing here is one AvePoint added since: the views show it with a NULL label.

CREATE TABLE "backup_job_type_codes" (
    "code" INTEGER NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "backup_job_type_codes_pkey" PRIMARY KEY ("code")
);

CREATE TABLE "backup_job_module_codes" (
    "code" INTEGER NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "backup_job_module_codes_pkey" PRIMARY KEY ("code")
);

CREATE TABLE "backup_job_status_codes" (
    "code" INTEGER NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "backup_job_status_codes_pkey" PRIMARY KEY ("code")
);

INSERT INTO "backup_job_type_codes" ("code", "label") VALUES
    (0, 'Microsoft 365 Scan'),
    (7, 'Microsoft 365'),
    (10, 'Google Workspace Scan'),
    (11, 'Google Workspace'),
    (12, 'IaaS + PaaS'),
    (15, 'Salesforce'),
    (16, 'Dynamics 365');

INSERT INTO "backup_job_module_codes" ("code", "label") VALUES
    (0, 'None'),
    (8, 'Archiver'),
    (10, 'Retention'),
    (302, 'SharePoint Online'),
    (303, 'Exchange Online'),
    (304, 'Microsoft 365 Groups'),
    (305, 'OneDrive'),
    (306, 'Project Online'),
    (307, 'Exchange Online Public Folder'),
    (308, 'Microsoft Teams'),
    (309, 'Teams Chat'),
    (310, 'Power BI'),
    (311, 'Power Automate'),
    (312, 'Power Apps'),
    (355, 'Cloud Backup for Azure'),
    (356, 'Azure Virtual Machine'),
    (357, 'Disk'),
    (358, 'Microsoft Entra ID'),
    (359, 'Storage'),
    (360, 'Admin Portal Settings'),
    (361, 'Amazon EC2'),
    (362, 'Native Azure SQL Backup Monitoring'),
    (363, 'Dev Ops'),
    (364, 'Microsoft Entra ID B2C'),
    (365, 'Azure SQL Backup'),
    (366, 'Google Virtual Machine Instance'),
    (367, 'Azure VMware Solution'),
    (368, 'Microsoft SQL Server in Azure VM'),
    (369, 'Google Cloud Storage'),
    (370, 'Cosmos DB'),
    (371, 'Azure PostgreSQL'),
    (401, 'Dynamics 365'),
    (402, 'Viva Engage'),
    (501, 'Gmail'),
    (502, 'Calendar'),
    (503, 'Contacts'),
    (504, 'Drive'),
    (505, 'Shared Drives'),
    (506, 'Google Classroom'),
    (507, 'Chat'),
    (508, 'Google Directory'),
    (550, 'Dynamics CRM Backup'),
    (551, 'Dynamics Unified Operations Backup');

INSERT INTO "backup_job_status_codes" ("code", "label") VALUES
    (0, 'None'),
    (1, 'Running'),
    (2, 'Finished'),
    (3, 'Failed'),
    (4, 'Finished with exception'),
    (5, 'Skipped'),
    (6, 'Pending'),
    (7, 'Failed to start'),
    (8, 'Canceled'),
    (9, 'Rejected'),
    (10, 'Stopped'),
    (11, 'Not scanned'),
    (12, 'Disabled'),
    (13, 'Not started'),
    (14, 'Waiting for configuration');

-- ---------------------------------------------------------------------------------------
-- Subscriptions: one row per subscription ever seen, identified by customer, service, source
-- and subscription name. An absent part of the identity ("N/A", missing) is stored as ''
-- (a key column cannot be NULL); the views show it as NULL. Every run rewrites each seen
-- row (last_seen_at): half-empty pages make that a HOT update, as for customers
-- (20261124120000_merge_at_scale).

CREATE TABLE "subscriptions" (
    "customer_id" TEXT NOT NULL,
    "service" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "subscription_name" TEXT NOT NULL,
    "subscription_model" TEXT,
    "purchased_user_seats" INTEGER,
    "purchased_units" INTEGER,
    "microsoft_license_assigned" INTEGER,
    "microsoft_license_available" INTEGER,
    "purchased_capacity" TEXT,
    "protected_capacity" TEXT,
    "storage" TEXT,
    "retention" TEXT,
    "consumed_storage" TEXT,
    "expiration_date" TIMESTAMPTZ(6),
    "change" TEXT,
    "payment_type" TEXT,
    "package" TEXT,
    "contract_end_date" TIMESTAMPTZ(6),
    "source_record" JSONB NOT NULL,
    "first_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "removed_at" TIMESTAMPTZ(6),

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("customer_id","service","source","subscription_name")
) WITH (fillfactor = 50);

-- One row per continuous period in which a subscription had the same value of every
-- attribute and presence; the invariants of customer_history.
CREATE TABLE "subscription_history" (
    "id" BIGSERIAL NOT NULL,
    "customer_id" TEXT NOT NULL,
    "service" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "subscription_name" TEXT NOT NULL,
    "subscription_model" TEXT,
    "purchased_user_seats" INTEGER,
    "purchased_units" INTEGER,
    "microsoft_license_assigned" INTEGER,
    "microsoft_license_available" INTEGER,
    "purchased_capacity" TEXT,
    "protected_capacity" TEXT,
    "storage" TEXT,
    "retention" TEXT,
    "consumed_storage" TEXT,
    "expiration_date" TIMESTAMPTZ(6),
    "change" TEXT,
    "payment_type" TEXT,
    "package" TEXT,
    "contract_end_date" TIMESTAMPTZ(6),
    "removed" BOOLEAN NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),
    "opened_by_run_id" INTEGER NOT NULL,
    "closed_by_run_id" INTEGER,

    CONSTRAINT "subscription_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "subscription_history_period_check"
        CHECK ("valid_to" IS NULL OR "valid_to" >= "valid_from"),
    CONSTRAINT "subscription_history_closed_check"
        CHECK (("valid_to" IS NULL) = ("closed_by_run_id" IS NULL))
);

-- ---------------------------------------------------------------------------------------
-- Backup jobs: one row per job ever seen. A job run is a fact that stays true, so a job the
-- API stops listing is never removed (removed_at stays NULL, no removed period opens; the
-- CHECKs hold the merge to it); last_seen_at says when it was last listed. Only its status
-- has history; the rest is kept current.

CREATE TABLE "backup_jobs" (
    "customer_id" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "job_type" INTEGER NOT NULL,
    "job_module" INTEGER NOT NULL,
    "name" TEXT,
    "total_count" BIGINT,
    "failed_count" BIGINT,
    "successful_count" BIGINT,
    "skipped_count" BIGINT,
    "warning_count" BIGINT,
    "backup_size" TEXT,
    "start_time" TIMESTAMPTZ(6),
    "end_time" TIMESTAMPTZ(6),
    "last_modified_at" TIMESTAMPTZ(6),
    "job_duration" TEXT,
    "source_record" JSONB NOT NULL,
    "first_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "removed_at" TIMESTAMPTZ(6),

    CONSTRAINT "backup_jobs_pkey" PRIMARY KEY ("customer_id","job_id"),
    CONSTRAINT "backup_jobs_never_removed" CHECK ("removed_at" IS NULL)
) WITH (fillfactor = 50);

CREATE TABLE "backup_job_status_history" (
    "id" BIGSERIAL NOT NULL,
    "customer_id" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "removed" BOOLEAN NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),
    "opened_by_run_id" INTEGER NOT NULL,
    "closed_by_run_id" INTEGER,

    CONSTRAINT "backup_job_status_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "backup_job_status_history_period_check"
        CHECK ("valid_to" IS NULL OR "valid_to" >= "valid_from"),
    CONSTRAINT "backup_job_status_history_closed_check"
        CHECK (("valid_to" IS NULL) = ("closed_by_run_id" IS NULL)),
    CONSTRAINT "backup_job_status_history_never_removed" CHECK (NOT "removed")
);

-- ---------------------------------------------------------------------------------------
-- What each run got of each resource. reason says why a resource is partial or skipped,
-- and only then. requests counts API requests, retries included, token requests not;
-- records: customers, products (services) or jobs received.

CREATE TABLE "sync_run_resources" (
    "run_id" INTEGER NOT NULL,
    "resource" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "reason" TEXT,
    "requests" INTEGER NOT NULL,
    "records" INTEGER NOT NULL,
    "rejected" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "sync_run_resources_pkey" PRIMARY KEY ("run_id","resource"),
    CONSTRAINT "sync_run_resources_resource_check"
        CHECK ("resource" IN ('customers', 'services', 'jobs')),
    CONSTRAINT "sync_run_resources_outcome_check"
        CHECK ("outcome" IN ('complete', 'partial', 'skipped')),
    CONSTRAINT "sync_run_resources_reason_check"
        CHECK (("outcome" = 'complete') = ("reason" IS NULL)),
    CONSTRAINT "sync_run_resources_counts_check"
        CHECK ("requests" >= 0 AND "records" >= 0 AND "rejected" >= 0)
);

-- ---------------------------------------------------------------------------------------
-- Indexes, as customer_history and tenant_history have them (20261201090000_attribute_history):
-- few, as every first sighting and change writes each.

-- Exactly one open period per subscription and per job: the merge relies on it, and so do
-- reports. failing_customers reads a job's status_since (valid_from) from it alone: an
-- index-only probe per failing job, half the time of one that visits the table.
CREATE UNIQUE INDEX "subscription_history_one_open_period" ON "subscription_history"("customer_id", "service", "source", "subscription_name") WHERE "valid_to" IS NULL;
CREATE UNIQUE INDEX "backup_job_status_history_one_open_period" ON "backup_job_status_history"("customer_id", "job_id") INCLUDE ("valid_from") WHERE "valid_to" IS NULL;
-- An entity's periods (the merge's redo finds them by customer); the period a change closed
-- (the *_changes views: one probe per change).
CREATE INDEX "subscription_history_subscription_valid_to_idx" ON "subscription_history"("customer_id", "service", "source", "subscription_name", "valid_to");
CREATE INDEX "backup_job_status_history_customer_id_job_id_valid_to_idx" ON "backup_job_status_history"("customer_id", "job_id", "valid_to");
-- Changes since an instant ("what changed last week").
CREATE INDEX "subscription_history_valid_from_idx" ON "subscription_history"("valid_from");
CREATE INDEX "backup_job_status_history_valid_from_idx" ON "backup_job_status_history"("valid_from");
-- "Expiring this month": a range of expiration dates, not a pass over every subscription.
-- A renewal moves it, so that update is not HOT; renewals are rare beside unchanged rows.
CREATE INDEX "subscriptions_expiration_date_idx" ON "subscriptions"("expiration_date");
-- reporting.failing_customers: the few jobs in a failing status, found without a pass over
-- every job (at 500,000 jobs the pass took 150 ms). Partial: only a job moving into or out of
-- a failing status writes it.
CREATE INDEX "backup_jobs_failing_idx" ON "backup_jobs"("customer_id", "job_id") WHERE "status" IN (3, 4, 7);

ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "subscription_history" ADD CONSTRAINT "subscription_history_subscription_fkey" FOREIGN KEY ("customer_id", "service", "source", "subscription_name") REFERENCES "subscriptions"("customer_id", "service", "source", "subscription_name") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "subscription_history" ADD CONSTRAINT "subscription_history_opened_by_run_id_fkey" FOREIGN KEY ("opened_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "subscription_history" ADD CONSTRAINT "subscription_history_closed_by_run_id_fkey" FOREIGN KEY ("closed_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "backup_jobs" ADD CONSTRAINT "backup_jobs_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "backup_job_status_history" ADD CONSTRAINT "backup_job_status_history_customer_id_job_id_fkey" FOREIGN KEY ("customer_id", "job_id") REFERENCES "backup_jobs"("customer_id", "job_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "backup_job_status_history" ADD CONSTRAINT "backup_job_status_history_opened_by_run_id_fkey" FOREIGN KEY ("opened_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "backup_job_status_history" ADD CONSTRAINT "backup_job_status_history_closed_by_run_id_fkey" FOREIGN KEY ("closed_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "sync_run_resources" ADD CONSTRAINT "sync_run_resources_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------
-- The views. Unknown codes have a NULL label here (issue 23), where the customers' views
-- write `unknown (n)`: a code is kept as its number, and a BI tool groups NULL labels.
-- Calendar days (::date) are those of the session's TimeZone, as in the other views.

CREATE VIEW "reporting"."services" AS
SELECT s.customer_id,
       c.organization,
       nullif(s.service, '') AS service,
       nullif(s.source, '') AS source,
       nullif(s.subscription_name, '') AS subscription_name,
       s.subscription_model,
       s.purchased_user_seats,
       s.purchased_units,
       s.microsoft_license_assigned,
       s.microsoft_license_available,
       s.purchased_capacity,
       s.protected_capacity,
       s.storage,
       s.retention,
       s.consumed_storage,
       s.expiration_date,
       s.change,
       s.payment_type,
       s.package,
       s.contract_end_date,
       -- AvePoint gives an expiration as a day, at midnight UTC: that day, in any session's zone.
       (s.expiration_date AT TIME ZONE 'UTC')::date - current_date AS days_until_expiration,
       s.first_seen_at,
       s.last_seen_at
FROM subscriptions s
JOIN customers c ON c.id = s.customer_id
WHERE s.removed_at IS NULL;
COMMENT ON VIEW "reporting"."services" IS 'every present subscription: what each customer pays for';

-- Like reporting.attribute_changes: each period next to the one it closed, one row per
-- attribute that differs (a first sighting: one presence row). The typed values are compared,
-- and only the rows kept are written out as text: times as ISO 8601 in UTC, whatever the
-- session's time zone (fractional seconds only when there are some), so a value reads the
-- same in every tool. (Text for all 16 attributes of every period took half the time of a
-- 100,000-change query.)
CREATE VIEW "reporting"."service_changes" AS
SELECT h.customer_id,
       c.organization,
       nullif(h.service, '') AS service,
       nullif(h.source, '') AS source,
       nullif(h.subscription_name, '') AS subscription_name,
       f.field,
       CASE f.field
         WHEN 'presence' THEN CASE WHEN prev.removed THEN 'removed' WHEN NOT prev.removed THEN 'present' END
         WHEN 'subscription_model' THEN prev.subscription_model
         WHEN 'purchased_user_seats' THEN prev.purchased_user_seats::text
         WHEN 'purchased_units' THEN prev.purchased_units::text
         WHEN 'microsoft_license_assigned' THEN prev.microsoft_license_assigned::text
         WHEN 'microsoft_license_available' THEN prev.microsoft_license_available::text
         WHEN 'purchased_capacity' THEN prev.purchased_capacity
         WHEN 'protected_capacity' THEN prev.protected_capacity
         WHEN 'storage' THEN prev.storage
         WHEN 'retention' THEN prev.retention
         WHEN 'consumed_storage' THEN prev.consumed_storage
         WHEN 'expiration_date' THEN rtrim(rtrim(to_char(prev.expiration_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'
         WHEN 'change' THEN prev.change
         WHEN 'payment_type' THEN prev.payment_type
         WHEN 'package' THEN prev.package
         WHEN 'contract_end_date' THEN rtrim(rtrim(to_char(prev.contract_end_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'
       END AS old_value,
       CASE f.field
         WHEN 'presence' THEN CASE WHEN h.removed THEN 'removed' ELSE 'present' END
         WHEN 'subscription_model' THEN h.subscription_model
         WHEN 'purchased_user_seats' THEN h.purchased_user_seats::text
         WHEN 'purchased_units' THEN h.purchased_units::text
         WHEN 'microsoft_license_assigned' THEN h.microsoft_license_assigned::text
         WHEN 'microsoft_license_available' THEN h.microsoft_license_available::text
         WHEN 'purchased_capacity' THEN h.purchased_capacity
         WHEN 'protected_capacity' THEN h.protected_capacity
         WHEN 'storage' THEN h.storage
         WHEN 'retention' THEN h.retention
         WHEN 'consumed_storage' THEN h.consumed_storage
         WHEN 'expiration_date' THEN rtrim(rtrim(to_char(h.expiration_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'
         WHEN 'change' THEN h.change
         WHEN 'payment_type' THEN h.payment_type
         WHEN 'package' THEN h.package
         WHEN 'contract_end_date' THEN rtrim(rtrim(to_char(h.contract_end_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'
       END AS new_value,
       h.valid_from AS changed_at,
       h.opened_by_run_id AS run_id
FROM subscription_history h
JOIN customers c ON c.id = h.customer_id
-- LATERAL ... LIMIT 1: one index probe per change, so a filter on changed_at stays cheap.
LEFT JOIN LATERAL (
  SELECT p.*
  FROM subscription_history p
  WHERE p.customer_id = h.customer_id AND p.service = h.service AND p.source = h.source
    AND p.subscription_name = h.subscription_name AND p.valid_to = h.valid_from
  LIMIT 1
) prev ON true
CROSS JOIN LATERAL (
  VALUES ('presence', prev.removed IS DISTINCT FROM h.removed),
         ('subscription_model', prev.subscription_model IS DISTINCT FROM h.subscription_model),
         ('purchased_user_seats', prev.purchased_user_seats IS DISTINCT FROM h.purchased_user_seats),
         ('purchased_units', prev.purchased_units IS DISTINCT FROM h.purchased_units),
         ('microsoft_license_assigned', prev.microsoft_license_assigned IS DISTINCT FROM h.microsoft_license_assigned),
         ('microsoft_license_available', prev.microsoft_license_available IS DISTINCT FROM h.microsoft_license_available),
         ('purchased_capacity', prev.purchased_capacity IS DISTINCT FROM h.purchased_capacity),
         ('protected_capacity', prev.protected_capacity IS DISTINCT FROM h.protected_capacity),
         ('storage', prev.storage IS DISTINCT FROM h.storage),
         ('retention', prev.retention IS DISTINCT FROM h.retention),
         ('consumed_storage', prev.consumed_storage IS DISTINCT FROM h.consumed_storage),
         ('expiration_date', prev.expiration_date IS DISTINCT FROM h.expiration_date),
         ('change', prev.change IS DISTINCT FROM h.change),
         ('payment_type', prev.payment_type IS DISTINCT FROM h.payment_type),
         ('package', prev.package IS DISTINCT FROM h.package),
         ('contract_end_date', prev.contract_end_date IS DISTINCT FROM h.contract_end_date)
) AS f(field, changed)
-- A first sighting is a presence row only; after it, every attribute that differs.
WHERE CASE WHEN prev.id IS NULL THEN f.field = 'presence' ELSE f.changed END;
COMMENT ON VIEW "reporting"."service_changes" IS 'one row per changed attribute of a subscription, appearing, removal and return included';

CREATE VIEW "reporting"."backup_jobs" AS
SELECT b.customer_id,
       c.organization,
       b.job_id,
       b.job_type,
       jt.label AS job_type_label,
       b.job_module,
       jm.label AS job_module_label,
       b.status,
       js.label AS status_label,
       b.name,
       b.total_count,
       b.failed_count,
       b.successful_count,
       b.skipped_count,
       b.warning_count,
       b.backup_size,
       b.start_time,
       b.end_time,
       b.job_duration,
       b.last_modified_at,
       b.first_seen_at,
       b.last_seen_at
FROM backup_jobs b
JOIN customers c ON c.id = b.customer_id
LEFT JOIN backup_job_type_codes jt ON jt.code = b.job_type
LEFT JOIN backup_job_module_codes jm ON jm.code = b.job_module
LEFT JOIN backup_job_status_codes js ON js.code = b.status;
COMMENT ON VIEW "reporting"."backup_jobs" IS 'every backup job ever seen, as last listed';

CREATE VIEW "reporting"."backup_job_status_changes" AS
SELECT h.customer_id,
       c.organization,
       h.job_id,
       prev.status AS old_status,
       os.label AS old_status_label,
       h.status AS new_status,
       ns.label AS new_status_label,
       h.valid_from AS changed_at,
       h.opened_by_run_id AS run_id
FROM backup_job_status_history h
JOIN customers c ON c.id = h.customer_id
LEFT JOIN LATERAL (
  SELECT p.status
  FROM backup_job_status_history p
  WHERE p.customer_id = h.customer_id AND p.job_id = h.job_id AND p.valid_to = h.valid_from
  LIMIT 1
) prev ON true
LEFT JOIN backup_job_status_codes os ON os.code = prev.status
LEFT JOIN backup_job_status_codes ns ON ns.code = h.status;
COMMENT ON VIEW "reporting"."backup_job_status_changes" IS 'one row per change of a backup job''s status, its first sighting included';

-- "Why is this customer Failed": each present customer in a failing job status (2 Failed,
-- 4 Multiple Issues Found, 5 Finished with Exception) with each of its jobs in a failing
-- status (3 Failed, 4 Finished with exception, 7 Failed to start); the LEFT JOIN keeps a
-- customer without such a job as one row with NULL job columns. A job the API no longer
-- lists is kept (last_seen_at tells). The failing customers are few: job_status_since is
-- one index probe each, as in reporting.customers.
CREATE VIEW "reporting"."failing_customers" AS
SELECT c.id AS customer_id,
       c.organization,
       c.job_status,
       cs.label AS job_status_label,
       coalesce(
         (SELECT max(h.valid_to) FROM customer_status_history h
          WHERE h.customer_id = c.id AND (h.removed OR h.job_status <> c.job_status)),
         c.first_seen_at) AS job_status_since,
       b.job_id,
       b.job_type,
       jt.label AS job_type_label,
       b.job_module,
       jm.label AS job_module_label,
       b.status,
       js.label AS status_label,
       p.valid_from AS status_since,
       b.name,
       b.failed_count,
       b.total_count,
       b.start_time,
       b.end_time,
       b.last_modified_at,
       b.last_seen_at
FROM customers c
LEFT JOIN job_status_codes cs ON cs.code = c.job_status
LEFT JOIN backup_jobs b ON b.customer_id = c.id AND b.status IN (3, 4, 7)
LEFT JOIN backup_job_status_history p
  ON p.customer_id = b.customer_id AND p.job_id = b.job_id AND p.valid_to IS NULL
LEFT JOIN backup_job_type_codes jt ON jt.code = b.job_type
LEFT JOIN backup_job_module_codes jm ON jm.code = b.job_module
LEFT JOIN backup_job_status_codes js ON js.code = b.status
WHERE c.removed_at IS NULL AND c.job_status IN (2, 4, 5);
COMMENT ON VIEW "reporting"."failing_customers" IS 'every present customer whose job status is failing, with each of its failing backup jobs';

CREATE VIEW "reporting"."sync_run_resources" AS
SELECT x.run_id,
       x.resource,
       x.outcome,
       x.reason,
       x.requests,
       x.records,
       x.rejected,
       r.started_at,
       r.status AS run_status
FROM sync_run_resources x
JOIN sync_runs r ON r.id = x.run_id;
COMMENT ON VIEW "reporting"."sync_run_resources" IS 'what each run got of each resource: customers, services, jobs';

-- What every column means: docs/reporting.md's meaning without the code marks
-- (test/readme.e2e.test.ts holds the two together).

-- reporting.services
COMMENT ON COLUMN "reporting"."services"."customer_id" IS 'the customer that has the subscription';
COMMENT ON COLUMN "reporting"."services"."organization" IS 'the customer''s organization name; null if none';
COMMENT ON COLUMN "reporting"."services"."service" IS 'the service, e.g. Cloud Backup for IaaS + PaaS - Unit; null if the API gave none (N/A)';
COMMENT ON COLUMN "reporting"."services"."source" IS 'where the subscription comes from, e.g. AvePoint pooled subscription; null if none';
COMMENT ON COLUMN "reporting"."services"."subscription_name" IS 'the subscription''s name (Fly only); null if none';
COMMENT ON COLUMN "reporting"."services"."subscription_model" IS 'subscription model; null if none';
COMMENT ON COLUMN "reporting"."services"."purchased_user_seats" IS 'user seats purchased; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."services"."purchased_units" IS 'units purchased; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."services"."microsoft_license_assigned" IS 'Microsoft licenses assigned; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."services"."microsoft_license_available" IS 'Microsoft licenses available; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."services"."purchased_capacity" IS 'purchased capacity as the API writes it, e.g. 0/1 GB; null if none';
COMMENT ON COLUMN "reporting"."services"."protected_capacity" IS 'protected capacity as the API writes it, e.g. 0 GB; null if none';
COMMENT ON COLUMN "reporting"."services"."storage" IS 'storage, e.g. Bring your own storage; null if none';
COMMENT ON COLUMN "reporting"."services"."retention" IS 'retention; null if none';
COMMENT ON COLUMN "reporting"."services"."consumed_storage" IS 'storage consumed, as the API writes it; null if none';
COMMENT ON COLUMN "reporting"."services"."expiration_date" IS 'when the subscription expires; null if none or not a date';
COMMENT ON COLUMN "reporting"."services"."change" IS 'change of a pooled licence since the first day of the month; null if none';
COMMENT ON COLUMN "reporting"."services"."payment_type" IS 'payment type, e.g. Prepaid; null if none';
COMMENT ON COLUMN "reporting"."services"."package" IS 'package (Cloud Backup for Microsoft 365 only); null if none';
COMMENT ON COLUMN "reporting"."services"."contract_end_date" IS 'when the contract ends; null if none or not a date';
COMMENT ON COLUMN "reporting"."services"."days_until_expiration" IS 'calendar days from today (in the session''s time zone) to the expiration day (expiration_date''s day in UTC, as AvePoint gives it), negative once expired; null without an expiration date';
COMMENT ON COLUMN "reporting"."services"."first_seen_at" IS 'start of the run that first saw it';
COMMENT ON COLUMN "reporting"."services"."last_seen_at" IS 'start of the last run that saw it';

-- reporting.service_changes
COMMENT ON COLUMN "reporting"."service_changes"."customer_id" IS 'the customer whose subscription changed';
COMMENT ON COLUMN "reporting"."service_changes"."organization" IS 'the customer''s organization name (as last seen); null if none';
COMMENT ON COLUMN "reporting"."service_changes"."service" IS 'the subscription''s service; null if none';
COMMENT ON COLUMN "reporting"."service_changes"."source" IS 'the subscription''s source; null if none';
COMMENT ON COLUMN "reporting"."service_changes"."subscription_name" IS 'the subscription''s name; null if none';
COMMENT ON COLUMN "reporting"."service_changes"."field" IS 'the attribute, named as its column in reporting.services (purchased_user_seats, expiration_date, …), or presence';
COMMENT ON COLUMN "reporting"."service_changes"."old_value" IS 'the value before the change, as text (times as ISO 8601 in UTC, e.g. 2026-09-26T00:00:00Z); null when it had none, and for presence on a first sighting';
COMMENT ON COLUMN "reporting"."service_changes"."new_value" IS 'the value after the change, as text (times as ISO 8601 in UTC); null when it has none; for presence: present or removed';
COMMENT ON COLUMN "reporting"."service_changes"."changed_at" IS 'start of the run that saw the change';
COMMENT ON COLUMN "reporting"."service_changes"."run_id" IS 'the run that saw the change';

-- reporting.backup_jobs
COMMENT ON COLUMN "reporting"."backup_jobs"."customer_id" IS 'the customer the job belongs to';
COMMENT ON COLUMN "reporting"."backup_jobs"."organization" IS 'the customer''s organization name; null if none';
COMMENT ON COLUMN "reporting"."backup_jobs"."job_id" IS 'the job id';
COMMENT ON COLUMN "reporting"."backup_jobs"."job_type" IS 'job type code';
COMMENT ON COLUMN "reporting"."backup_jobs"."job_type_label" IS 'label of job_type; null for a code this version does not know';
COMMENT ON COLUMN "reporting"."backup_jobs"."job_module" IS 'job module code';
COMMENT ON COLUMN "reporting"."backup_jobs"."job_module_label" IS 'label of job_module; null for a code this version does not know';
COMMENT ON COLUMN "reporting"."backup_jobs"."status" IS 'the job''s status code as last listed';
COMMENT ON COLUMN "reporting"."backup_jobs"."status_label" IS 'label of status; null for a code this version does not know';
COMMENT ON COLUMN "reporting"."backup_jobs"."name" IS 'the job''s name; null if none';
COMMENT ON COLUMN "reporting"."backup_jobs"."total_count" IS 'objects in the job; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."backup_jobs"."failed_count" IS 'objects that failed; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."backup_jobs"."successful_count" IS 'objects that succeeded; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."backup_jobs"."skipped_count" IS 'objects skipped; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."backup_jobs"."warning_count" IS 'objects with warnings; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."backup_jobs"."backup_size" IS 'backup size as the API writes it, e.g. 0 GB; null if none';
COMMENT ON COLUMN "reporting"."backup_jobs"."start_time" IS 'when the job started; null if none or not a time';
COMMENT ON COLUMN "reporting"."backup_jobs"."end_time" IS 'when the job ended; null if none or not a time';
COMMENT ON COLUMN "reporting"."backup_jobs"."job_duration" IS 'duration as the API writes it, e.g. 17m39s; null if none';
COMMENT ON COLUMN "reporting"."backup_jobs"."last_modified_at" IS 'when AvePoint last modified the job (lastModifyTime); null if none or not a time';
COMMENT ON COLUMN "reporting"."backup_jobs"."first_seen_at" IS 'start of the run that first saw it';
COMMENT ON COLUMN "reporting"."backup_jobs"."last_seen_at" IS 'start of the last run that listed it (a job no longer listed is kept)';

-- reporting.backup_job_status_changes
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."customer_id" IS 'the customer the job belongs to';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."organization" IS 'the customer''s organization name (as last seen); null if none';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."job_id" IS 'the job that changed';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."old_status" IS 'status code before the change; null on the job''s first sighting';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."old_status_label" IS 'label of old_status; null on a first sighting and for a code this version does not know';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."new_status" IS 'status code after the change';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."new_status_label" IS 'label of new_status; null for a code this version does not know';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."changed_at" IS 'start of the run that saw the change';
COMMENT ON COLUMN "reporting"."backup_job_status_changes"."run_id" IS 'the run that saw the change';

-- reporting.failing_customers
COMMENT ON COLUMN "reporting"."failing_customers"."customer_id" IS 'a present customer whose job status is Failed, Multiple Issues Found or Finished with Exception';
COMMENT ON COLUMN "reporting"."failing_customers"."organization" IS 'the customer''s organization name; null if none';
COMMENT ON COLUMN "reporting"."failing_customers"."job_status" IS 'the customer''s job status code: 2, 4 or 5';
COMMENT ON COLUMN "reporting"."failing_customers"."job_status_label" IS 'label of job_status';
COMMENT ON COLUMN "reporting"."failing_customers"."job_status_since" IS 'start of the run since which the customer has had this job status';
COMMENT ON COLUMN "reporting"."failing_customers"."job_id" IS 'one of its backup jobs whose status is Failed, Finished with exception or Failed to start; null (with every job column) when it has none';
COMMENT ON COLUMN "reporting"."failing_customers"."job_type" IS 'the job''s type code';
COMMENT ON COLUMN "reporting"."failing_customers"."job_type_label" IS 'label of job_type; null for a code this version does not know';
COMMENT ON COLUMN "reporting"."failing_customers"."job_module" IS 'the job''s module code';
COMMENT ON COLUMN "reporting"."failing_customers"."job_module_label" IS 'label of job_module; null for a code this version does not know';
COMMENT ON COLUMN "reporting"."failing_customers"."status" IS 'the job''s status code: 3, 4 or 7';
COMMENT ON COLUMN "reporting"."failing_customers"."status_label" IS 'label of status';
COMMENT ON COLUMN "reporting"."failing_customers"."status_since" IS 'start of the run that first saw the job in this status';
COMMENT ON COLUMN "reporting"."failing_customers"."name" IS 'the job''s name; null if none';
COMMENT ON COLUMN "reporting"."failing_customers"."failed_count" IS 'objects that failed; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."failing_customers"."total_count" IS 'objects in the job; null if none or not a whole number';
COMMENT ON COLUMN "reporting"."failing_customers"."start_time" IS 'when the job started; null if none';
COMMENT ON COLUMN "reporting"."failing_customers"."end_time" IS 'when the job ended; null if none';
COMMENT ON COLUMN "reporting"."failing_customers"."last_modified_at" IS 'when AvePoint last modified the job; null if none';
COMMENT ON COLUMN "reporting"."failing_customers"."last_seen_at" IS 'start of the last run that listed the job (a job no longer listed is kept)';

-- reporting.sync_run_resources
COMMENT ON COLUMN "reporting"."sync_run_resources"."run_id" IS 'the run';
COMMENT ON COLUMN "reporting"."sync_run_resources"."resource" IS 'customers, services or jobs';
COMMENT ON COLUMN "reporting"."sync_run_resources"."outcome" IS 'complete, partial (some of it synced, e.g. one customer''s jobs could not be read) or skipped (e.g. the permission is missing)';
COMMENT ON COLUMN "reporting"."sync_run_resources"."reason" IS 'why it is partial or skipped; null when complete';
COMMENT ON COLUMN "reporting"."sync_run_resources"."requests" IS 'API requests made for it, retries included, token requests not';
COMMENT ON COLUMN "reporting"."sync_run_resources"."records" IS 'records received: customers, products (services) or jobs';
COMMENT ON COLUMN "reporting"."sync_run_resources"."rejected" IS 'records rejected by validation';
COMMENT ON COLUMN "reporting"."sync_run_resources"."started_at" IS 'when the run started';
COMMENT ON COLUMN "reporting"."sync_run_resources"."run_status" IS 'the run''s status: running, succeeded, failed or abandoned';

-- Roles that read the reporting views already may read these too: bi-access roles get
-- them from their default privileges, and a role granted reporting.customers by hand here
-- (as 20261201090000_attribute_history does for its functions). No base table is granted.
DO $$
DECLARE
  reader text;
BEGIN
  FOR reader IN
    SELECT DISTINCT a.grantee::regrole::text
    FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
    WHERE c.oid = 'reporting.customers'::regclass
      AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner AND a.grantee <> 0
  LOOP
    EXECUTE format('GRANT SELECT ON "reporting"."services", "reporting"."service_changes", '
                   '"reporting"."backup_jobs", "reporting"."backup_job_status_changes", '
                   '"reporting"."failing_customers", "reporting"."sync_run_resources" TO %s',
                   reader);
  END LOOP;
END
$$;
