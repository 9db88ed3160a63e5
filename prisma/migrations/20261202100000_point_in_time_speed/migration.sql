-- reporting.customers_at and reporting.tenants_at built from the present, as
-- customer_status_at_run is since 20261202090000_reporting_speed, instead of the whole
-- history: an entity with no period closed after `at` is now as it was then (its current
-- row; first seen by then), any other one is in the period closed after `at` that began by
-- then. For a recent instant that is a few thousand periods, found through the partial
-- valid_to indexes. Same columns and rows, given the history's invariants (README, "The SQL
-- contract"): periods back to back from first_seen_at, the open one agreeing with the
-- customers or tenants row.
-- CREATE OR REPLACE keeps the functions' owner, comments and EXECUTE grants (PUBLIC stays
-- revoked). Options as before (see 20261201090000_attribute_history), jit off included.
-- Tenants are counted from the tenants rows as they are, then corrected by the tenants a
-- period of which closed after `at` (minus their row now, plus their period then): no
-- per-tenant anti-join over 200,000 rows.
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
             (coalesce(tn.tenants, 0) + coalesce(td.tenants, 0))::integer,
             s.first_seen_at
      FROM (
        SELECT c.id AS customer_id, c.organization, c.owner_email, c.country_or_region,
               c.job_status, c.management_mode, c.first_seen_at
        FROM %1$I.customers c
        WHERE c.removed_at IS NULL AND c.first_seen_at <= "at"
          AND NOT EXISTS (SELECT FROM %1$I.customer_history a
                          WHERE a.valid_to > "at" AND a.customer_id = c.id)
        UNION ALL
        -- A subquery, not a join: a probe per period, not a pass over every customer.
        SELECT h.customer_id, h.organization, h.owner_email, h.country_or_region,
               h.job_status, h.management_mode,
               (SELECT c.first_seen_at FROM %1$I.customers c WHERE c.id = h.customer_id)
        FROM %1$I.customer_history h
        WHERE h.valid_to > "at" AND h.valid_from <= "at" AND NOT h.removed
      ) s
      LEFT JOIN (
        SELECT t.customer_id, count(*) AS tenants
        FROM %1$I.tenants t
        WHERE t.removed_at IS NULL AND t.first_seen_at <= "at"
        GROUP BY t.customer_id
      ) tn ON tn.customer_id = s.customer_id
      LEFT JOIN (
        SELECT d.customer_id, sum(d.delta) AS tenants
        FROM (
          SELECT t.customer_id, -1 AS delta
          FROM %1$I.tenants t
          WHERE t.removed_at IS NULL AND t.first_seen_at <= "at"
            AND EXISTS (SELECT FROM %1$I.tenant_history a
                        WHERE a.valid_to > "at" AND a.customer_id = t.customer_id
                          AND a.tenant_id = t.id)
          UNION ALL
          SELECT h.customer_id, 1
          FROM %1$I.tenant_history h
          WHERE h.valid_to > "at" AND h.valid_from <= "at" AND NOT h.removed
        ) d
        GROUP BY d.customer_id
      ) td ON td.customer_id = s.customer_id
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
      SELECT s.customer_id,
             o.organization,
             s.tenant_id,
             s.name,
             s.first_seen_at
      FROM (
        SELECT t.customer_id, t.id AS tenant_id, t.name, t.first_seen_at
        FROM %1$I.tenants t
        WHERE t.removed_at IS NULL AND t.first_seen_at <= "at"
          AND NOT EXISTS (SELECT FROM %1$I.tenant_history a
                          WHERE a.valid_to > "at" AND a.customer_id = t.customer_id
                            AND a.tenant_id = t.id)
        UNION ALL
        SELECT h.customer_id, h.tenant_id, h.name,
               (SELECT t.first_seen_at FROM %1$I.tenants t
                WHERE t.customer_id = h.customer_id AND t.id = h.tenant_id)
        FROM %1$I.tenant_history h
        WHERE h.valid_to > "at" AND h.valid_from <= "at" AND NOT h.removed
      ) s
      -- The customer's organization then (its period then, removed or not).
      LEFT JOIN (
        SELECT c.id AS customer_id, c.organization
        FROM %1$I.customers c
        WHERE c.first_seen_at <= "at"
          AND NOT EXISTS (SELECT FROM %1$I.customer_history a
                          WHERE a.valid_to > "at" AND a.customer_id = c.id)
        UNION ALL
        SELECT h.customer_id, h.organization
        FROM %1$I.customer_history h
        WHERE h.valid_to > "at" AND h.valid_from <= "at"
      ) o ON o.customer_id = s.customer_id;
    END
    $body$$function$, current_schema());
END
$migration$;
