-- totalCount is whatever number the API sends: a value beyond 32 bits failed the run and
-- then failed to record it, leaving the row `running`. bigint holds every totalCount the
-- worker accepts (JavaScript's safe integers).
-- PostgreSQL will not retype a column a view reads, so reporting.sync_runs is dropped and
-- created again, as it was. Dropping a view drops its grants (bi-access roles, roles
-- granted it by hand) and its comments (the view's and its columns'): both are read first
-- and given back to the new view.
DO $$
DECLARE
  restore text[];
  statement text;
BEGIN
  SELECT coalesce(array_agg(s), '{}') INTO restore
  FROM (
    SELECT DISTINCT format('GRANT SELECT ON "reporting"."sync_runs" TO %s',
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                ELSE a.grantee::regrole::text END) AS s
    FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
    WHERE c.oid = 'reporting.sync_runs'::regclass
      AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
    UNION ALL
    SELECT format('COMMENT ON VIEW "reporting"."sync_runs" IS %L', d.description)
    FROM pg_description d
    WHERE d.classoid = 'pg_class'::regclass AND d.objoid = 'reporting.sync_runs'::regclass
      AND d.objsubid = 0
    UNION ALL
    SELECT format('COMMENT ON COLUMN "reporting"."sync_runs".%I IS %L', a.attname, d.description)
    FROM pg_description d
    JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid
    WHERE d.classoid = 'pg_class'::regclass AND d.objoid = 'reporting.sync_runs'::regclass
      AND d.objsubid > 0
  ) statements;

  DROP VIEW "reporting"."sync_runs";

  ALTER TABLE "sync_runs" ALTER COLUMN "api_total_count" TYPE BIGINT;

  CREATE VIEW "reporting"."sync_runs" AS
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

  FOREACH statement IN ARRAY restore LOOP
    EXECUTE statement;
  END LOOP;
END
$$;
