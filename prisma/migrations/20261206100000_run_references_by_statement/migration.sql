-- Every history row names the run that opened its period and, once closed, the run that
-- closed it. Foreign keys checked that row by row: an index lookup and a row lock in
-- sync_runs per named run per history row, about as long again as inserting the row
-- (`npm run bench:run-references`). A run writes thousands of rows that name one or two
-- runs, so the same guarantee is now checked once per statement, over the statement's
-- rows (a transition table), by the triggers below; the foreign keys to sync_runs go.
-- Every other foreign key stays (a period's to its customer, tenant, subscription or job).
--
-- What the foreign keys promised, and what keeps it now:
-- - no history row names a run that sync_runs does not hold: history_runs_exist, after
--   every INSERT and UPDATE of a history table, with SQLSTATE 23503 as a foreign key;
-- - a run that history names is neither deleted nor renumbered (the foreign keys were ON
--   DELETE RESTRICT; ON UPDATE CASCADE never happened, as nothing changes a run's id):
--   sync_runs_keep_referenced, after DELETE, UPDATE OF id and TRUNCATE of sync_runs;
-- - concurrent transactions: history_runs_exist locks the runs it names FOR KEY SHARE, as a
--   foreign key's check does, so a DELETE of one waits for the inserting transaction and
--   then finds its rows, or the insert waits for the DELETE and then finds the run gone.

CREATE FUNCTION "history_runs_exist"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  runs integer[];
  missing integer;
  named_by text;
BEGIN
  -- A statement's rows name few runs: one pass over them, then one lookup per run.
  SELECT array_agg(run) INTO runs
  FROM (SELECT opened_by_run_id FROM new_rows UNION SELECT closed_by_run_id FROM new_rows) AS named(run)
  WHERE run IS NOT NULL;
  IF runs IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM FROM sync_runs WHERE id = ANY (runs) FOR KEY SHARE;
  -- A new statement, so a new snapshot: a run a concurrent DELETE removed while the lock
  -- above waited is missing here.
  SELECT min(run) INTO missing
  FROM unnest(runs) AS named(run)
  WHERE NOT EXISTS (SELECT FROM sync_runs r WHERE r.id = named.run);
  IF missing IS NOT NULL THEN
    named_by := CASE WHEN EXISTS (SELECT FROM new_rows WHERE opened_by_run_id = missing)
                     THEN 'opened_by_run_id' ELSE 'closed_by_run_id' END;
    RAISE EXCEPTION '%.% names run %, which is not in sync_runs', TG_TABLE_NAME, named_by, missing
      USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
            COLUMN = named_by;
  END IF;
  RETURN NULL;
END $$;

-- TG_ARGV: the history tables. Runs are never deleted or renumbered by the product; this is
-- for a hand in psql. Only customer_status_history has indexes on its run columns; the other
-- tables are read whole, once per statement, which is what such a DELETE then costs.
CREATE FUNCTION "sync_runs_keep_referenced"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  runs integer[];
  history text;
  referenced integer;
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT array_agg(id) INTO runs FROM old_rows;
    IF runs IS NULL THEN
      RETURN NULL;
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    runs := ARRAY[OLD.id];
  END IF;
  FOREACH history IN ARRAY TG_ARGV LOOP
    IF TG_OP = 'TRUNCATE' THEN
      -- Every row names a run (opened_by_run_id is NOT NULL): any row left is referenced.
      -- The tables truncated with sync_runs in one statement are empty by now.
      EXECUTE format('SELECT opened_by_run_id FROM %I LIMIT 1', history) INTO referenced;
    ELSE
      EXECUTE format(
        'SELECT run FROM (SELECT opened_by_run_id FROM %1$I WHERE opened_by_run_id = ANY ($1)
                          UNION ALL
                          SELECT closed_by_run_id FROM %1$I WHERE closed_by_run_id = ANY ($1)) AS named(run)
         LIMIT 1', history) INTO referenced USING runs;
    END IF;
    IF referenced IS NOT NULL THEN
      RAISE EXCEPTION 'run % is named by %: a run that history names cannot be %',
        referenced, history,
        CASE TG_OP WHEN 'UPDATE' THEN 'renumbered' WHEN 'DELETE' THEN 'deleted' ELSE 'deleted (TRUNCATE)' END
        USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = history;
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

ALTER TABLE "customer_status_history" DROP CONSTRAINT "customer_status_history_opened_by_run_id_fkey",
    DROP CONSTRAINT "customer_status_history_closed_by_run_id_fkey";
ALTER TABLE "customer_history" DROP CONSTRAINT "customer_history_opened_by_run_id_fkey",
    DROP CONSTRAINT "customer_history_closed_by_run_id_fkey";
ALTER TABLE "tenant_history" DROP CONSTRAINT "tenant_history_opened_by_run_id_fkey",
    DROP CONSTRAINT "tenant_history_closed_by_run_id_fkey";
ALTER TABLE "subscription_history" DROP CONSTRAINT "subscription_history_opened_by_run_id_fkey",
    DROP CONSTRAINT "subscription_history_closed_by_run_id_fkey";
ALTER TABLE "backup_job_status_history" DROP CONSTRAINT "backup_job_status_history_opened_by_run_id_fkey",
    DROP CONSTRAINT "backup_job_status_history_closed_by_run_id_fkey";

-- A trigger with transition tables serves one event, hence one for INSERT and one for UPDATE.
CREATE TRIGGER "customer_status_history_runs_exist_insert" AFTER INSERT ON "customer_status_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "customer_status_history_runs_exist_update" AFTER UPDATE ON "customer_status_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "customer_history_runs_exist_insert" AFTER INSERT ON "customer_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "customer_history_runs_exist_update" AFTER UPDATE ON "customer_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "tenant_history_runs_exist_insert" AFTER INSERT ON "tenant_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "tenant_history_runs_exist_update" AFTER UPDATE ON "tenant_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "subscription_history_runs_exist_insert" AFTER INSERT ON "subscription_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "subscription_history_runs_exist_update" AFTER UPDATE ON "subscription_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "backup_job_status_history_runs_exist_insert" AFTER INSERT ON "backup_job_status_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();
CREATE TRIGGER "backup_job_status_history_runs_exist_update" AFTER UPDATE ON "backup_job_status_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "history_runs_exist"();

-- A new history table joins both lists (docs/development.md, adding an entity).
CREATE TRIGGER "sync_runs_keep_referenced_delete" AFTER DELETE ON "sync_runs"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "sync_runs_keep_referenced"('customer_status_history', 'customer_history',
        'tenant_history', 'subscription_history', 'backup_job_status_history');
-- Per row, but only for a statement that sets id, and only where it changes (never, in the product).
CREATE TRIGGER "sync_runs_keep_referenced_update" AFTER UPDATE OF "id" ON "sync_runs"
    FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id")
    EXECUTE FUNCTION "sync_runs_keep_referenced"('customer_status_history', 'customer_history',
        'tenant_history', 'subscription_history', 'backup_job_status_history');
CREATE TRIGGER "sync_runs_keep_referenced_truncate" AFTER TRUNCATE ON "sync_runs"
    FOR EACH STATEMENT
    EXECUTE FUNCTION "sync_runs_keep_referenced"('customer_status_history', 'customer_history',
        'tenant_history', 'subscription_history', 'backup_job_status_history');
