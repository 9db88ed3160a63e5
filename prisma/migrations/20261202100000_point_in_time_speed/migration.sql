-- reporting.customers_at and reporting.tenants_at built from the present, as
-- customer_status_at_run is since 20261202090000_reporting_speed, instead of the whole
-- history. Given the history's invariants (README, "The SQL contract": periods back to back
-- from first_seen_at, the open one agreeing with the customers or tenants row), an entity
-- first seen by `at` is, at `at`, in the one period that began by then and closed after it,
-- or, when it has none, as its row is now. For a recent instant those periods are a few
-- thousand, found through the partial valid_to indexes. Same columns and rows as before.
-- CREATE OR REPLACE keeps the functions' owner, comments and EXECUTE grants (PUBLIC stays
-- revoked). Options as before (see 20261201090000_attribute_history), jit off included.
-- An instant long ago gains nothing: most periods closed after it (90 days back in
-- bench:reporting, 3 customers in 4), and reading them and the present costs more than the
-- history alone did.
DO $migration$
BEGIN
  EXECUTE format($function$
    CREATE OR REPLACE FUNCTION "reporting"."customers_at"("at" timestamptz)
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
      SELECT s.customer_id,
             s.organization,
             s.owner_email,
             s.country_or_region,
             s.job_status,
             coalesce(js.label, 'unknown (' || s.job_status || ')'),
             s.management_mode,
             coalesce(mm.label, 'unknown (' || s.management_mode || ')'),
             coalesce(tc.tenants, 0)::integer,
             s.first_seen_at
      FROM (
        SELECT c.id AS customer_id, c.organization, c.owner_email, c.country_or_region,
               c.job_status, c.management_mode, c.first_seen_at
        FROM %1$I.customers c
        WHERE c.removed_at IS NULL AND c.first_seen_at <= "at"
          AND NOT EXISTS (SELECT FROM %1$I.customer_history a
                          WHERE a.valid_to > "at" AND a.customer_id = c.id)
        UNION ALL
        SELECT h.customer_id, h.organization, h.owner_email, h.country_or_region,
               h.job_status, h.management_mode, c.first_seen_at
        FROM %1$I.customer_history h
        JOIN %1$I.customers c ON c.id = h.customer_id
        WHERE h.valid_to > "at" AND h.valid_from <= "at" AND NOT h.removed
      ) s
      -- Tenants the same way, as tenants_at does (one pass over tenants, joined to the few
      -- periods closed after `at`).
      LEFT JOIN (
        SELECT t.customer_id, count(*) AS tenants
        FROM %1$I.tenants t
        LEFT JOIN %1$I.tenant_history h
          ON h.customer_id = t.customer_id AND h.tenant_id = t.id
         AND h.valid_to > "at" AND h.valid_from <= "at"
        WHERE t.first_seen_at <= "at"
          AND CASE WHEN h.id IS NULL THEN t.removed_at IS NULL ELSE NOT h.removed END
        GROUP BY t.customer_id
      ) tc ON tc.customer_id = s.customer_id
      LEFT JOIN %1$I.job_status_codes js ON js.code = s.job_status
      LEFT JOIN %1$I.management_mode_codes mm ON mm.code = s.management_mode;
    END
    $body$$function$, current_schema());

  EXECUTE format($function$
    CREATE OR REPLACE FUNCTION "reporting"."tenants_at"("at" timestamptz)
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
      SELECT t.customer_id,
             o.organization,
             t.id,
             CASE WHEN h.id IS NULL THEN t.name ELSE h.name END,
             t.first_seen_at
      FROM %1$I.tenants t
      LEFT JOIN %1$I.tenant_history h
        ON h.customer_id = t.customer_id AND h.tenant_id = t.id
       AND h.valid_to > "at" AND h.valid_from <= "at"
      -- The customer's organization then (its period then, removed or not).
      LEFT JOIN (
        SELECT c.id AS customer_id,
               CASE WHEN ch.id IS NULL THEN c.organization ELSE ch.organization END AS organization
        FROM %1$I.customers c
        LEFT JOIN %1$I.customer_history ch
          ON ch.customer_id = c.id AND ch.valid_to > "at" AND ch.valid_from <= "at"
        WHERE c.first_seen_at <= "at"
      ) o ON o.customer_id = t.customer_id
      WHERE t.first_seen_at <= "at"
        AND CASE WHEN h.id IS NULL THEN t.removed_at IS NULL ELSE NOT h.removed END;
    END
    $body$$function$, current_schema());
END
$migration$;
