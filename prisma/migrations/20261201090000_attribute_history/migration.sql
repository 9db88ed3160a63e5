-- Exact history of every attribute (issue 17): customer_history keeps every tracked
-- attribute of a customer (organization, owner email, country or region, job status,
-- management mode, removed), tenant_history a tenant's name and removal, in periods with
-- the invariants of customer_status_history, which stays as it is. reporting.attribute_changes
-- lists each change attribute by attribute; reporting.customers_at and reporting.tenants_at
-- give the customers and tenants present at an instant, as they were then.

-- ---------------------------------------------------------------------------------------
-- The history tables, constrained like customer_status_history.

CREATE TABLE "customer_history" (
    "id" BIGSERIAL NOT NULL,
    "customer_id" TEXT NOT NULL,
    "organization" TEXT,
    "owner_email" TEXT,
    "country_or_region" TEXT,
    "job_status" INTEGER NOT NULL,
    "management_mode" INTEGER NOT NULL,
    "removed" BOOLEAN NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),
    "opened_by_run_id" INTEGER NOT NULL,
    "closed_by_run_id" INTEGER,

    CONSTRAINT "customer_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "customer_history_period_check"
        CHECK ("valid_to" IS NULL OR "valid_to" >= "valid_from"),
    CONSTRAINT "customer_history_closed_check"
        CHECK (("valid_to" IS NULL) = ("closed_by_run_id" IS NULL))
);

CREATE TABLE "tenant_history" (
    "id" BIGSERIAL NOT NULL,
    "customer_id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "name" TEXT,
    "removed" BOOLEAN NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_to" TIMESTAMPTZ(6),
    "opened_by_run_id" INTEGER NOT NULL,
    "closed_by_run_id" INTEGER,

    CONSTRAINT "tenant_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "tenant_history_period_check"
        CHECK ("valid_to" IS NULL OR "valid_to" >= "valid_from"),
    CONSTRAINT "tenant_history_closed_check"
        CHECK (("valid_to" IS NULL) = ("closed_by_run_id" IS NULL))
);

-- ---------------------------------------------------------------------------------------
-- Backfill: the history from before this migration, from what the database knows. The
-- indexes and foreign keys come after it: an index built once over the filled table, and a
-- foreign key checked by one join, not a lookup per row (at 100,000 customers with a year
-- of nightly history, 890,000 customer periods).

-- A customer's periods are its customer_status_history periods, exactly (status, mode,
-- removal, instants, runs): that is all the database recorded. Organization, owner email
-- and country or region were kept only as last seen, so every backfilled period carries
-- those. Consecutive status periods differ, so these do too.
INSERT INTO "customer_history"
    ("customer_id", "organization", "owner_email", "country_or_region", "job_status",
     "management_mode", "removed", "valid_from", "valid_to", "opened_by_run_id", "closed_by_run_id")
SELECT h."customer_id", c."organization", c."owner_email", c."country_or_region", h."job_status",
       h."management_mode", h."removed", h."valid_from", h."valid_to", h."opened_by_run_id", h."closed_by_run_id"
FROM "customer_status_history" h
JOIN "customers" c ON c."id" = h."customer_id"
ORDER BY h."customer_id", h."valid_from", h."id";

-- A tenant's periods: present from first_seen_at, and removed from removed_at for one that
-- is gone now; its name as last seen. A removal that was restored since left no trace.
-- Every such instant is a run's started_at, so the run is the one that started then (one
-- hash join); should a row have been edited by hand, the latest run that started by then.
WITH runs_by_start AS (
    SELECT "started_at", max("id") AS "id" FROM "sync_runs" GROUP BY "started_at"
),
periods AS (
    SELECT t."customer_id", t."id" AS "tenant_id", t."name", p."removed", p."valid_from", p."valid_to"
    FROM "tenants" t
    CROSS JOIN LATERAL (
        VALUES (false, t."first_seen_at", t."removed_at"),
               (true, t."removed_at", NULL::timestamptz)
    ) AS p("removed", "valid_from", "valid_to")
    WHERE p."valid_from" IS NOT NULL
)
INSERT INTO "tenant_history"
    ("customer_id", "tenant_id", "name", "removed", "valid_from", "valid_to",
     "opened_by_run_id", "closed_by_run_id")
SELECT p."customer_id", p."tenant_id", p."name", p."removed", p."valid_from", p."valid_to",
       coalesce(opened."id", (SELECT r."id" FROM "sync_runs" r WHERE r."started_at" <= p."valid_from"
                              ORDER BY r."started_at" DESC LIMIT 1)),
       CASE WHEN p."valid_to" IS NOT NULL THEN
         coalesce(closed."id", (SELECT r."id" FROM "sync_runs" r WHERE r."started_at" <= p."valid_to"
                                ORDER BY r."started_at" DESC LIMIT 1))
       END
FROM periods p
LEFT JOIN runs_by_start opened ON opened."started_at" = p."valid_from"
LEFT JOIN runs_by_start closed ON closed."started_at" = p."valid_to"
ORDER BY p."customer_id", p."tenant_id", p."valid_from";

-- ---------------------------------------------------------------------------------------
-- Indexes: fewer than customer_status_history has, as every first sighting and change
-- writes each of them (a first run writes a period per customer and per tenant). What one
-- run changed is found by its start (changed_at, valid_from), not by run id.

-- Exactly one open period per customer and per tenant: the merge relies on it, and so do reports.
CREATE UNIQUE INDEX "customer_history_one_open_period" ON "customer_history"("customer_id") WHERE "valid_to" IS NULL;
CREATE UNIQUE INDEX "tenant_history_one_open_period" ON "tenant_history"("customer_id", "tenant_id") WHERE "valid_to" IS NULL;
-- An entity's periods; the period a change closed (attribute_changes: one probe per change).
CREATE INDEX "customer_history_customer_id_valid_to_idx" ON "customer_history"("customer_id", "valid_to");
CREATE INDEX "tenant_history_customer_id_tenant_id_valid_to_idx" ON "tenant_history"("customer_id", "tenant_id", "valid_to");
-- Changes since an instant ("what changed last week").
CREATE INDEX "customer_history_valid_from_idx" ON "customer_history"("valid_from");
CREATE INDEX "tenant_history_valid_from_idx" ON "tenant_history"("valid_from");

ALTER TABLE "customer_history" ADD CONSTRAINT "customer_history_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "customer_history" ADD CONSTRAINT "customer_history_opened_by_run_id_fkey" FOREIGN KEY ("opened_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "customer_history" ADD CONSTRAINT "customer_history_closed_by_run_id_fkey" FOREIGN KEY ("closed_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "tenant_history" ADD CONSTRAINT "tenant_history_customer_id_tenant_id_fkey" FOREIGN KEY ("customer_id", "tenant_id") REFERENCES "tenants"("customer_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "tenant_history" ADD CONSTRAINT "tenant_history_opened_by_run_id_fkey" FOREIGN KEY ("opened_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "tenant_history" ADD CONSTRAINT "tenant_history_closed_by_run_id_fkey" FOREIGN KEY ("closed_by_run_id") REFERENCES "sync_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------
-- reporting.attribute_changes: every history period next to the one it closed, one row
-- per attribute that differs between them (and one `presence` row for a first sighting).

CREATE VIEW "reporting"."attribute_changes" AS
SELECT h.valid_from AS changed_at,
       h.opened_by_run_id AS run_id,
       'customer'::text AS entity,
       h.customer_id,
       NULL::text AS tenant_id,
       c.organization,
       f.field,
       f.old_value,
       f.new_value
FROM customer_history h
JOIN customers c ON c.id = h.customer_id
-- LATERAL ... LIMIT 1: one index probe per change, so a filter on changed_at stays cheap.
LEFT JOIN LATERAL (
  SELECT p.id, p.organization, p.owner_email, p.country_or_region, p.job_status,
         p.management_mode, p.removed
  FROM customer_history p
  WHERE p.customer_id = h.customer_id AND p.valid_to = h.valid_from
  LIMIT 1
) prev ON true
CROSS JOIN LATERAL (
  VALUES ('presence', CASE WHEN prev.removed THEN 'removed' WHEN NOT prev.removed THEN 'present' END,
                      CASE WHEN h.removed THEN 'removed' ELSE 'present' END),
         ('organization', prev.organization, h.organization),
         ('owner_email', prev.owner_email, h.owner_email),
         ('country_or_region', prev.country_or_region, h.country_or_region),
         ('job_status', prev.job_status::text, h.job_status::text),
         ('management_mode', prev.management_mode::text, h.management_mode::text)
) AS f(field, old_value, new_value)
-- A first sighting is a presence row only; after it, every attribute that differs.
WHERE CASE WHEN prev.id IS NULL THEN f.field = 'presence'
           ELSE f.old_value IS DISTINCT FROM f.new_value END
UNION ALL
SELECT h.valid_from,
       h.opened_by_run_id,
       'tenant'::text,
       h.customer_id,
       h.tenant_id,
       c.organization,
       f.field,
       f.old_value,
       f.new_value
FROM tenant_history h
JOIN customers c ON c.id = h.customer_id
LEFT JOIN LATERAL (
  SELECT p.id, p.name, p.removed
  FROM tenant_history p
  WHERE p.customer_id = h.customer_id AND p.tenant_id = h.tenant_id AND p.valid_to = h.valid_from
  LIMIT 1
) prev ON true
CROSS JOIN LATERAL (
  VALUES ('presence', CASE WHEN prev.removed THEN 'removed' WHEN NOT prev.removed THEN 'present' END,
                      CASE WHEN h.removed THEN 'removed' ELSE 'present' END),
         ('name', prev.name, h.name)
) AS f(field, old_value, new_value)
WHERE CASE WHEN prev.id IS NULL THEN f.field = 'presence'
           ELSE f.old_value IS DISTINCT FROM f.new_value END;
COMMENT ON VIEW "reporting"."attribute_changes" IS 'one row per changed attribute of a customer or tenant, appearing, removal and return included';

COMMENT ON COLUMN "reporting"."attribute_changes"."changed_at" IS 'start of the run that saw the change';
COMMENT ON COLUMN "reporting"."attribute_changes"."run_id" IS 'the run that saw the change';
COMMENT ON COLUMN "reporting"."attribute_changes"."entity" IS 'customer or tenant: whose attribute changed';
COMMENT ON COLUMN "reporting"."attribute_changes"."customer_id" IS 'the customer that changed, or the tenant''s customer';
COMMENT ON COLUMN "reporting"."attribute_changes"."tenant_id" IS 'the tenant that changed; null for a customer''s own attributes';
COMMENT ON COLUMN "reporting"."attribute_changes"."organization" IS 'the customer''s organization name (as last seen); null if none';
COMMENT ON COLUMN "reporting"."attribute_changes"."field" IS 'the attribute: organization, owner_email, country_or_region, job_status, management_mode, name (a tenant''s), or presence';
COMMENT ON COLUMN "reporting"."attribute_changes"."old_value" IS 'the value before the change, as text (codes as their digits); null when it had none, and for presence on a first sighting';
COMMENT ON COLUMN "reporting"."attribute_changes"."new_value" IS 'the value after the change, as text (codes as their digits); null when it has none; for presence: present or removed';

-- ---------------------------------------------------------------------------------------
-- Point in time. SECURITY DEFINER, as a view runs with its owner's rights: a role allowed
-- to execute them (bi-access) reads the history through them without any right on the
-- base tables. The pinned search_path holds nothing a caller could plant, so every table
-- is named with its schema, this one's (written in when the function is created).
-- A period is open at `at` when it began at or before it and ended after it.
-- PL/pgSQL with plan_cache_mode = force_custom_plan: the query is planned for the instant
-- asked. A SQL function's query is planned for any instant, and at 100,000 customers with a
-- year of history that plan read the history through the valid_from index: 2.9 s instead
-- of 0.8 s (under load). jit off: the estimate passes jit_above_cost, and compiling took
-- 5.9 s of 6.2 s. work_mem: counting 200,000 tenants per customer in memory, not on disk.
-- No job_status_since (reporting.customers has it): an index probe per customer costs more
-- than the rest of the query together.
-- #variable_conflict use_column: the result columns are also PL/pgSQL variables.
DO $migration$
BEGIN
  EXECUTE format($function$
    CREATE FUNCTION "reporting"."customers_at"("at" timestamptz)
    RETURNS TABLE (
        customer_id text,
        organization text,
        owner_email text,
        country_or_region text,
        job_status integer,
        job_status_label text,
        management_mode integer,
        management_mode_label text,
        tenant_count integer,
        first_seen_at timestamptz
    )
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
    SET jit = off SET work_mem = '32MB'
    AS $body$
    #variable_conflict use_column
    BEGIN
      RETURN QUERY
      SELECT h.customer_id,
             h.organization,
             h.owner_email,
             h.country_or_region,
             h.job_status,
             coalesce(js.label, 'unknown (' || h.job_status || ')'),
             h.management_mode,
             coalesce(mm.label, 'unknown (' || h.management_mode || ')'),
             coalesce(t.tenants, 0)::integer,
             c.first_seen_at
      FROM %1$I.customer_history h
      JOIN %1$I.customers c ON c.id = h.customer_id
      LEFT JOIN (
        SELECT th.customer_id, count(*) AS tenants
        FROM %1$I.tenant_history th
        WHERE th.valid_from <= "at" AND (th.valid_to IS NULL OR th.valid_to > "at")
          AND NOT th.removed
        GROUP BY th.customer_id
      ) t ON t.customer_id = h.customer_id
      LEFT JOIN %1$I.job_status_codes js ON js.code = h.job_status
      LEFT JOIN %1$I.management_mode_codes mm ON mm.code = h.management_mode
      WHERE h.valid_from <= "at" AND (h.valid_to IS NULL OR h.valid_to > "at")
        AND NOT h.removed;
    END
    $body$$function$, current_schema());

  EXECUTE format($function$
    CREATE FUNCTION "reporting"."tenants_at"("at" timestamptz)
    RETURNS TABLE (
        customer_id text,
        organization text,
        tenant_id text,
        tenant_name text,
        first_seen_at timestamptz
    )
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
    SET jit = off SET work_mem = '32MB'
    AS $body$
    #variable_conflict use_column
    BEGIN
      RETURN QUERY
      SELECT h.customer_id,
             ch.organization,
             h.tenant_id,
             h.name,
             t.first_seen_at
      FROM %1$I.tenant_history h
      JOIN %1$I.tenants t ON t.customer_id = h.customer_id AND t.id = h.tenant_id
      -- The customer's organization then (its period then, removed or not).
      LEFT JOIN %1$I.customer_history ch
        ON ch.customer_id = h.customer_id AND ch.valid_from <= "at"
       AND (ch.valid_to IS NULL OR ch.valid_to > "at")
      WHERE h.valid_from <= "at" AND (h.valid_to IS NULL OR h.valid_to > "at")
        AND NOT h.removed;
    END
    $body$$function$, current_schema());
END
$migration$;
COMMENT ON FUNCTION "reporting"."customers_at"(timestamptz) IS 'every customer present at an instant, with every attribute as it was then';
COMMENT ON FUNCTION "reporting"."tenants_at"(timestamptz) IS 'every tenant present at an instant, with its name then';

-- Functions may be executed by PUBLIC unless revoked: only roles granted them may.
REVOKE ALL ON FUNCTION "reporting"."customers_at"(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION "reporting"."tenants_at"(timestamptz) FROM PUBLIC;

-- Roles that read the reporting views already (bi-access roles, roles granted them by hand)
-- may call the functions too; `elements-sync bi-access` grants them from now on.
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
    EXECUTE format('GRANT EXECUTE ON FUNCTION "reporting"."customers_at"(timestamptz), '
                   '"reporting"."tenants_at"(timestamptz) TO %s', reader);
  END LOOP;
END
$$;
