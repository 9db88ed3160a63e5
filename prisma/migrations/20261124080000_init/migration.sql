-- elements-sync initial schema. Hand-written to match prisma/schema.prisma
-- (test/schema-drift.test.ts checks it), with what Prisma cannot express:
-- CHECK constraints, the partial unique index on open periods, UNLOGGED staging.

-- CreateTable
CREATE TABLE "customers" (
    "id" TEXT NOT NULL,
    "organization" TEXT,
    "owner_email" TEXT,
    "job_status" INTEGER NOT NULL,
    "country_or_region" TEXT,
    "management_mode" INTEGER NOT NULL,
    "first_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "removed_at" TIMESTAMPTZ(6),

    CONSTRAINT "customers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenants" (
    "customer_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT,
    "first_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "removed_at" TIMESTAMPTZ(6),

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("customer_id","id")
);

-- CreateTable
CREATE TABLE "sync_runs" (
    "id" SERIAL NOT NULL,
    "started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(6),
    "status" TEXT NOT NULL DEFAULT 'running',
    "complete" BOOLEAN NOT NULL DEFAULT false,
    "customer_filter" TEXT,
    "api_total_count" INTEGER,
    "pages_fetched" INTEGER NOT NULL DEFAULT 0,
    "customers_seen" INTEGER NOT NULL DEFAULT 0,
    "tenants_seen" INTEGER NOT NULL DEFAULT 0,
    "customers_added" INTEGER NOT NULL DEFAULT 0,
    "customers_removed" INTEGER NOT NULL DEFAULT 0,
    "customers_restored" INTEGER NOT NULL DEFAULT 0,
    "status_changes" INTEGER NOT NULL DEFAULT 0,
    "rejected_records" INTEGER NOT NULL DEFAULT 0,
    "incomplete_reason" TEXT,
    "error" TEXT,

    CONSTRAINT "sync_runs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "sync_runs_status_check"
        CHECK ("status" IN ('running', 'succeeded', 'failed', 'abandoned')),
    -- A finished run always says when it finished; a failed or abandoned one says why.
    CONSTRAINT "sync_runs_finished_check"
        CHECK (("status" = 'running') = ("finished_at" IS NULL)),
    CONSTRAINT "sync_runs_error_check"
        CHECK ("status" NOT IN ('failed', 'abandoned') OR "error" IS NOT NULL)
);

-- CreateTable
CREATE TABLE "customer_status_history" (
    "id" BIGSERIAL NOT NULL,
    "customer_id" TEXT NOT NULL,
    "job_status" INTEGER NOT NULL,
    "management_mode" INTEGER NOT NULL,
    "removed" BOOLEAN NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),
    "opened_by_run_id" INTEGER NOT NULL,
    "closed_by_run_id" INTEGER,

    CONSTRAINT "customer_status_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "customer_status_history_period_check"
        CHECK ("valid_to" IS NULL OR "valid_to" >= "valid_from"),
    CONSTRAINT "customer_status_history_closed_check"
        CHECK (("valid_to" IS NULL) = ("closed_by_run_id" IS NULL))
);

-- CreateTable
CREATE TABLE "job_status_codes" (
    "code" INTEGER NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "job_status_codes_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "management_mode_codes" (
    "code" INTEGER NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "management_mode_codes_pkey" PRIMARY KEY ("code")
);

-- CreateTable: staging is scratch space for runs in progress; UNLOGGED skips the WAL.
CREATE UNLOGGED TABLE "staging_customers" (
    "run_id" INTEGER NOT NULL,
    "id" TEXT NOT NULL,
    "organization" TEXT,
    "owner_email" TEXT,
    "job_status" INTEGER NOT NULL,
    "country_or_region" TEXT,
    "management_mode" INTEGER NOT NULL,

    CONSTRAINT "staging_customers_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateTable
CREATE UNLOGGED TABLE "staging_tenants" (
    "run_id" INTEGER NOT NULL,
    "customer_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT,

    CONSTRAINT "staging_tenants_pkey" PRIMARY KEY ("run_id","customer_id","id")
);

-- CreateIndex
CREATE INDEX "customer_status_history_customer_id_valid_from_idx" ON "customer_status_history"("customer_id", "valid_from");

-- CreateIndex
CREATE INDEX "customer_status_history_opened_by_run_id_idx" ON "customer_status_history"("opened_by_run_id");

-- CreateIndex
CREATE INDEX "customer_status_history_closed_by_run_id_idx" ON "customer_status_history"("closed_by_run_id");

-- Exactly one open period per customer: the merge relies on it, and so do reports.
CREATE UNIQUE INDEX "customer_status_history_one_open_period" ON "customer_status_history"("customer_id") WHERE "valid_to" IS NULL;

-- AddForeignKey
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_status_history" ADD CONSTRAINT "customer_status_history_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_status_history" ADD CONSTRAINT "customer_status_history_opened_by_run_id_fkey" FOREIGN KEY ("opened_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "customer_status_history" ADD CONSTRAINT "customer_status_history_closed_by_run_id_fkey" FOREIGN KEY ("closed_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Seed the documented codes (../shared reference: Elements customers API).
INSERT INTO "job_status_codes" ("code", "label") VALUES
    (0, 'N/A'),
    (1, 'Working'),
    (2, 'Failed'),
    (3, 'Waiting for Configuration'),
    (4, 'Multiple Issues Found'),
    (5, 'Finished with Exception'),
    (6, 'No Backup Update');

INSERT INTO "management_mode_codes" ("code", "label") VALUES
    (0, 'Customer management of tenant'),
    (1, 'Partner management of tenant'),
    (2, 'To be configured');
