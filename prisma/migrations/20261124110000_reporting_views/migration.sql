-- The `reporting` schema: views that answer the questions this data exists for, documented
-- column by column in README.md ("Query it"; test/readme.test.ts holds the two together).
-- Views run with their owner's rights, so a role granted SELECT on them (by
-- `elements-sync bi-access`) reads reporting data without any right on the base tables.
-- Codes missing from the code tables are labelled `unknown (<code>)`, as in the README queries.
-- Calendar days (::date) are those of the session's TimeZone setting.
-- PostgreSQL will not drop or retype a column a view reads: a later migration that changes
-- such a column drops the views that read it and creates them again.

CREATE SCHEMA "reporting";
COMMENT ON SCHEMA "reporting" IS 'elements-sync reporting views (see README "Query it")';

-- Changes since an instant ("since yesterday") and the history's time line.
CREATE INDEX "customer_status_history_valid_from_idx" ON "customer_status_history"("valid_from");
-- The period a change closed (job_status_changes' previous period): an index lookup per change.
-- It also keeps the planner's estimate of that lookup low enough not to JIT-compile a
-- 15,000-row query (PostgreSQL's default jit_above_cost), which cost 0.7 s of 0.8 s.
CREATE INDEX "customer_status_history_customer_id_valid_to_idx" ON "customer_status_history"("customer_id", "valid_to");

CREATE VIEW "reporting"."customers" AS
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
       c.removed_at
FROM customers c
LEFT JOIN job_status_codes js ON js.code = c.job_status
LEFT JOIN management_mode_codes mm ON mm.code = c.management_mode;
COMMENT ON VIEW "reporting"."customers" IS 'every customer ever seen, with its current (or last known) status';

CREATE VIEW "reporting"."tenants" AS
SELECT t.customer_id,
       c.organization,
       t.id AS tenant_id,
       t.name AS tenant_name,
       t.first_seen_at,
       t.last_seen_at,
       t.removed_at IS NOT NULL AS removed,
       t.removed_at
FROM tenants t
JOIN customers c ON c.id = t.customer_id;
COMMENT ON VIEW "reporting"."tenants" IS 'every tenant ever seen, with its customer''s organization';

-- One row per history period: the change that opened it, next to the period it closed.
CREATE VIEW "reporting"."job_status_changes" AS
SELECT h.valid_from AS changed_at,
       h.opened_by_run_id AS run_id,
       h.customer_id,
       c.organization,
       CASE WHEN prev.id IS NULL THEN 'added'
            WHEN h.removed THEN 'removed'
            WHEN prev.removed THEN 'restored'
            ELSE 'changed'
       END AS change_kind,
       prev.job_status AS previous_job_status,
       CASE WHEN prev.id IS NOT NULL
            THEN coalesce(pjs.label, 'unknown (' || prev.job_status || ')') END
         AS previous_job_status_label,
       h.job_status,
       coalesce(js.label, 'unknown (' || h.job_status || ')') AS job_status_label,
       prev.management_mode AS previous_management_mode,
       CASE WHEN prev.id IS NOT NULL
            THEN coalesce(pmm.label, 'unknown (' || prev.management_mode || ')') END
         AS previous_management_mode_label,
       h.management_mode,
       coalesce(mm.label, 'unknown (' || h.management_mode || ')') AS management_mode_label,
       -- "Moved into this status": what adds one to the status's count in job_status_daily.
       NOT h.removed AND (prev.id IS NULL OR prev.removed OR prev.job_status <> h.job_status)
         AS job_status_changed,
       NOT h.removed AND (prev.id IS NULL OR prev.removed OR prev.management_mode <> h.management_mode)
         AS management_mode_changed
FROM customer_status_history h
JOIN customers c ON c.id = h.customer_id
-- LATERAL ... LIMIT 1: one index probe per change, so a filter on changed_at stays cheap
-- (a plain join lets the planner hash the whole history when it misjudges the filter).
LEFT JOIN LATERAL (
  SELECT p.id, p.job_status, p.management_mode, p.removed
  FROM customer_status_history p
  WHERE p.customer_id = h.customer_id AND p.valid_to = h.valid_from
  LIMIT 1
) prev ON true
LEFT JOIN job_status_codes js ON js.code = h.job_status
LEFT JOIN job_status_codes pjs ON pjs.code = prev.job_status
LEFT JOIN management_mode_codes mm ON mm.code = h.management_mode
LEFT JOIN management_mode_codes pmm ON pmm.code = prev.management_mode;
COMMENT ON VIEW "reporting"."job_status_changes" IS 'one row per change of a customer: added, removed, restored, or a new job status or management mode';

-- Customers per job status at the end of each calendar day. The count changes only where
-- a period opens or closes: +1 at each present period's valid_from, -1 at its valid_to.
-- Summing those over a year of history (a million periods) takes too long for a BI
-- dashboard, so statement-level triggers keep the sums per instant and job status in
-- reporting_internal.job_status_deltas (a few rows per run); job_status_daily adds them up.
-- Triggers rather than the sync: every way the history changes (the merge, a manual fix,
-- a restore) keeps the sums right, and the tests compare them with the history itself.
CREATE SCHEMA "reporting_internal";
COMMENT ON SCHEMA "reporting_internal" IS 'what elements-sync reporting views are computed from; not for direct use';

CREATE TABLE "reporting_internal"."job_status_deltas" (
    "at" TIMESTAMPTZ(6) NOT NULL,
    "job_status" INTEGER NOT NULL,
    "delta" INTEGER NOT NULL,
    CONSTRAINT "job_status_deltas_pkey" PRIMARY KEY ("at", "job_status")
);

INSERT INTO "reporting_internal"."job_status_deltas" ("at", "job_status", "delta")
SELECT at, job_status, sum(delta)
FROM customer_status_history h
CROSS JOIN LATERAL (VALUES (h.valid_from, 1), (h.valid_to, -1)) AS p(at, delta)
WHERE NOT h.removed AND p.at IS NOT NULL
GROUP BY at, job_status
HAVING sum(delta) <> 0;

-- SECURITY DEFINER: the sums stay writable only by their owner, whoever writes the history.
CREATE FUNCTION "reporting_internal"."track_job_status_deltas"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM reporting_internal.job_status_deltas;
    RETURN NULL;
  END IF;
  -- Transition tables cannot be passed around, hence one statement per case.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO reporting_internal.job_status_deltas AS d (at, job_status, delta)
    SELECT p.at, r.job_status, sum(p.delta)
    FROM new_rows r CROSS JOIN LATERAL (VALUES (r.valid_from, 1), (r.valid_to, -1)) AS p(at, delta)
    WHERE NOT r.removed AND p.at IS NOT NULL
    GROUP BY p.at, r.job_status
    ON CONFLICT (at, job_status) DO UPDATE SET delta = d.delta + EXCLUDED.delta;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO reporting_internal.job_status_deltas AS d (at, job_status, delta)
    SELECT p.at, r.job_status, sum(p.delta)
    FROM (SELECT valid_from, valid_to, job_status, removed, 1 AS sign FROM new_rows
          UNION ALL
          SELECT valid_from, valid_to, job_status, removed, -1 FROM old_rows) AS r
    CROSS JOIN LATERAL (VALUES (r.valid_from, r.sign), (r.valid_to, -r.sign)) AS p(at, delta)
    WHERE NOT r.removed AND p.at IS NOT NULL
    GROUP BY p.at, r.job_status
    ON CONFLICT (at, job_status) DO UPDATE SET delta = d.delta + EXCLUDED.delta;
  ELSE
    INSERT INTO reporting_internal.job_status_deltas AS d (at, job_status, delta)
    SELECT p.at, r.job_status, -sum(p.delta)
    FROM old_rows r CROSS JOIN LATERAL (VALUES (r.valid_from, 1), (r.valid_to, -1)) AS p(at, delta)
    WHERE NOT r.removed AND p.at IS NOT NULL
    GROUP BY p.at, r.job_status
    ON CONFLICT (at, job_status) DO UPDATE SET delta = d.delta + EXCLUDED.delta;
  END IF;
  DELETE FROM reporting_internal.job_status_deltas WHERE delta = 0;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION "reporting_internal"."track_job_status_deltas"() FROM PUBLIC;

CREATE TRIGGER "job_status_deltas_insert" AFTER INSERT ON "customer_status_history"
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION "reporting_internal"."track_job_status_deltas"();
CREATE TRIGGER "job_status_deltas_update" AFTER UPDATE ON "customer_status_history"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION "reporting_internal"."track_job_status_deltas"();
CREATE TRIGGER "job_status_deltas_delete" AFTER DELETE ON "customer_status_history"
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION "reporting_internal"."track_job_status_deltas"();
CREATE TRIGGER "job_status_deltas_truncate" AFTER TRUNCATE ON "customer_status_history"
    FOR EACH STATEMENT EXECUTE FUNCTION "reporting_internal"."track_job_status_deltas"();

-- Days are those of the session's TimeZone; days without a run carry the last state
-- forward, and a period opened and closed on the same day counts on no day.
CREATE VIEW "reporting"."job_status_daily" AS
WITH deltas_by_day AS (
  SELECT at::date AS day, job_status, sum(delta) AS delta
  FROM reporting_internal.job_status_deltas
  GROUP BY 1, 2
),
days AS (
  SELECT d::date AS day
  FROM (SELECT min(started_at)::date AS first_day FROM sync_runs WHERE status = 'succeeded') f
  CROSS JOIN generate_series(f.first_day::timestamp, current_date::timestamp, interval '1 day') AS d
),
statuses AS (
  SELECT code AS job_status FROM job_status_codes
  UNION
  SELECT job_status FROM deltas_by_day
)
SELECT d.day,
       s.job_status,
       coalesce(js.label, 'unknown (' || s.job_status || ')') AS job_status_label,
       (sum(coalesce(x.delta, 0)) OVER (PARTITION BY s.job_status ORDER BY d.day))::integer
         AS customers
FROM days d
CROSS JOIN statuses s
LEFT JOIN deltas_by_day x ON x.day = d.day AND x.job_status = s.job_status
LEFT JOIN job_status_codes js ON js.code = s.job_status;
COMMENT ON VIEW "reporting"."job_status_daily" IS 'customers per job status at the end of every day from the first run to today';

-- The nightly snapshot: each succeeded run, every customer present at its instant.
CREATE VIEW "reporting"."customer_status_at_run" AS
SELECT r.id AS run_id,
       r.started_at AS run_started_at,
       h.customer_id,
       c.organization,
       h.job_status,
       coalesce(js.label, 'unknown (' || h.job_status || ')') AS job_status_label,
       h.management_mode,
       coalesce(mm.label, 'unknown (' || h.management_mode || ')') AS management_mode_label
FROM sync_runs r
-- Open at the run's start: opened by it or an earlier run, not closed by then. In run ids,
-- which grow with started_at, so the index on closed_by_run_id finds the few periods
-- closed after a recent run next to the open ones.
JOIN customer_status_history h
  ON h.opened_by_run_id <= r.id AND (h.closed_by_run_id IS NULL OR h.closed_by_run_id > r.id)
JOIN customers c ON c.id = h.customer_id
LEFT JOIN job_status_codes js ON js.code = h.job_status
LEFT JOIN management_mode_codes mm ON mm.code = h.management_mode
WHERE r.status = 'succeeded' AND NOT h.removed;
COMMENT ON VIEW "reporting"."customer_status_at_run" IS 'the nightly snapshot: for every succeeded run, every customer present then, with its status';

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
       r.rejected_records
FROM sync_runs r;
COMMENT ON VIEW "reporting"."sync_runs" IS 'every run with its duration and outcome';
