-- Every history row names its entity, and every tenant, subscription and backup job its
-- customer. Foreign keys checked that row by row: an index lookup and a row lock in the
-- parent per child row, about 5.5 µs each, some 600,000 of them in a first run of 100,000
-- customers; checked per statement, 600,000 rows take 0.77 s instead of 3.3 s
-- (`npm run bench:run-references`). The same guarantee is now checked once per
-- statement, over the statement's rows (a transition table), by the triggers below, as
-- migration 20261206100000_run_references_by_statement does for the run references; the
-- eight foreign keys go. sync_run_resources keeps its foreign key to sync_runs.
--
-- What the foreign keys promised, and what keeps it now:
-- - no child row names a parent the parent table does not hold: entity_parents_exist, after
--   every INSERT (per statement) and every UPDATE that changes the key columns (per row,
--   only when they change: a trigger with a transition table cannot be limited to some
--   columns, and the merge updates every known tenant, subscription and job each run
--   without touching its key), with SQLSTATE 23503 as a foreign key;
-- - a parent that a child names is neither deleted nor given another key:
--   entity_keep_referenced, after DELETE (per statement), UPDATE of the key (per row, when
--   it changes) and TRUNCATE of the parent. The foreign keys were ON UPDATE CASCADE; a key
--   change never happened (an entity's key is the API's id) and is now refused;
-- - concurrent transactions: entity_parents_exist locks the parents it names FOR KEY SHARE,
--   as a foreign key's check does, so a DELETE of one waits for the inserting transaction
--   and then finds its rows, or the insert waits for the DELETE and then finds it gone.
--
-- Both functions take their reference from TG_ARGV: the other table, the child's columns
-- and the parent's key columns, each list comma-separated and in the same order.

CREATE FUNCTION "entity_parents_exist"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent text := TG_ARGV[0];
  child_columns text[] := string_to_array(TG_ARGV[1], ',');
  parent_columns text[] := string_to_array(TG_ARGV[2], ',');
  named text;      -- the child's columns, quoted, for SELECT
  matched text;    -- the join of a new row (n) with its parent row (p)
  present text;    -- no NULL in the key (MATCH SIMPLE: such a row names nothing)
  source text;     -- the new rows: the statement's, or the one row changed
  wanted bigint;
  found bigint;
  missing text;
BEGIN
  SELECT string_agg(format('%I', c), ', ' ORDER BY i),
         string_agg(format('p.%I = n.%I', parent_columns[i], c), ' AND ' ORDER BY i),
         string_agg(format('%I IS NOT NULL', c), ' AND ' ORDER BY i)
    INTO named, matched, present
  FROM unnest(child_columns) WITH ORDINALITY AS k(c, i);
  source := CASE WHEN TG_LEVEL = 'ROW'
                 THEN format('(SELECT ($1::%I.%I).*)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
                 ELSE 'new_rows' END;
  -- Every new row's parent, locked: the join yields one row per child row whose parent is
  -- there (the parent's key is unique), so a count short of the rows' means one is missing.
  -- No DISTINCT: a hash of the keys costs more than probing a parent again, and locking a
  -- row this transaction already holds is cheap.
  EXECUTE format(
    'SELECT (SELECT count(*) FROM %1$s AS r WHERE %2$s),
            (SELECT count(*) FROM (SELECT FROM %1$s AS n JOIN %3$I p ON %4$s FOR KEY SHARE OF p) AS l)',
    source, present, parent, matched)
    INTO wanted, found USING NEW;
  IF found < wanted THEN
    -- A new statement, so a new snapshot: a parent a concurrent DELETE removed while the
    -- lock above waited is missing here.
    EXECUTE format(
      'SELECT concat_ws(%1$L, %2$s) FROM (SELECT DISTINCT %3$s FROM %4$s AS r WHERE %5$s) AS n
       WHERE NOT EXISTS (SELECT FROM %6$I p WHERE %7$s)
       ORDER BY 1 LIMIT 1',
      ', ',
      (SELECT string_agg(format('n.%I::text', c), ', ' ORDER BY i)
       FROM unnest(child_columns) WITH ORDINALITY AS k(c, i)),
      named, source, present, parent, matched)
      INTO missing USING NEW;
    RAISE EXCEPTION '% (%) names (%), which is not in % (%)',
      TG_TABLE_NAME, array_to_string(child_columns, ', '), missing,
      parent, array_to_string(parent_columns, ', ')
      USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION "entity_keep_referenced"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  child text := TG_ARGV[0];
  child_columns text[] := string_to_array(TG_ARGV[1], ',');
  parent_columns text[] := string_to_array(TG_ARGV[2], ',');
  source text;
  referenced text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    -- Any child row left names a parent that is gone; the children truncated in the same
    -- statement are empty by now.
    EXECUTE format('SELECT concat_ws(%L, %s) FROM %I LIMIT 1', ', ',
      (SELECT string_agg(format('%I::text', c), ', ') FROM unnest(child_columns) AS c), child)
      INTO referenced;
  ELSE
    -- The old keys: the statement's deleted rows, or the one row whose key changed.
    source := CASE WHEN TG_LEVEL = 'ROW'
                   THEN format('(SELECT ($1::%I.%I).*)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
                   ELSE 'old_rows' END;
    EXECUTE format(
      'SELECT concat_ws(%1$L, %2$s) FROM %3$s AS o
       WHERE EXISTS (SELECT FROM %4$I c WHERE %5$s)
       ORDER BY 1 LIMIT 1',
      ', ',
      (SELECT string_agg(format('o.%I::text', c), ', ' ORDER BY i)
       FROM unnest(parent_columns) WITH ORDINALITY AS k(c, i)),
      source, child,
      (SELECT string_agg(format('c.%I = o.%I', c, parent_columns[i]), ' AND ' ORDER BY i)
       FROM unnest(child_columns) WITH ORDINALITY AS k(c, i)))
      INTO referenced USING OLD;
  END IF;
  IF referenced IS NOT NULL THEN
    RAISE EXCEPTION '% (%) = (%) is named by % (%): a row that % names cannot be %',
      TG_TABLE_NAME, array_to_string(parent_columns, ', '), referenced,
      child, array_to_string(child_columns, ', '), child,
      CASE TG_OP WHEN 'UPDATE' THEN 'given another key' WHEN 'DELETE' THEN 'deleted'
                 ELSE 'deleted (TRUNCATE)' END
      USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = child;
  END IF;
  RETURN NULL;
END $$;

ALTER TABLE "tenants" DROP CONSTRAINT "tenants_customer_id_fkey";
ALTER TABLE "subscriptions" DROP CONSTRAINT "subscriptions_customer_id_fkey";
ALTER TABLE "backup_jobs" DROP CONSTRAINT "backup_jobs_customer_id_fkey";
ALTER TABLE "customer_status_history" DROP CONSTRAINT "customer_status_history_customer_id_fkey";
ALTER TABLE "customer_history" DROP CONSTRAINT "customer_history_customer_id_fkey";
ALTER TABLE "tenant_history" DROP CONSTRAINT "tenant_history_customer_id_tenant_id_fkey";
ALTER TABLE "subscription_history" DROP CONSTRAINT "subscription_history_subscription_fkey";
ALTER TABLE "backup_job_status_history" DROP CONSTRAINT "backup_job_status_history_customer_id_job_id_fkey";

-- Each reference: two triggers on the child, three on the parent, with the same arguments
-- but the other table (docs/development.md, adding an entity). Triggers fire in name order.

-- tenants (customer_id) → customers (id)
CREATE TRIGGER "tenants_parents_exist_insert" AFTER INSERT ON "tenants"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "tenants_parents_exist_update" AFTER UPDATE OF "customer_id" ON "tenants"
    FOR EACH ROW WHEN (OLD."customer_id" IS DISTINCT FROM NEW."customer_id")
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_tenants_delete" AFTER DELETE ON "customers"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('tenants', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_tenants_update" AFTER UPDATE OF "id" ON "customers"
    FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id")
    EXECUTE FUNCTION "entity_keep_referenced"('tenants', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_tenants_truncate" AFTER TRUNCATE ON "customers"
    FOR EACH STATEMENT EXECUTE FUNCTION "entity_keep_referenced"('tenants', 'customer_id', 'id');

-- subscriptions (customer_id) → customers (id)
CREATE TRIGGER "subscriptions_parents_exist_insert" AFTER INSERT ON "subscriptions"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "subscriptions_parents_exist_update" AFTER UPDATE OF "customer_id" ON "subscriptions"
    FOR EACH ROW WHEN (OLD."customer_id" IS DISTINCT FROM NEW."customer_id")
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_subscriptions_delete" AFTER DELETE ON "customers"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('subscriptions', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_subscriptions_update" AFTER UPDATE OF "id" ON "customers"
    FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id")
    EXECUTE FUNCTION "entity_keep_referenced"('subscriptions', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_subscriptions_truncate" AFTER TRUNCATE ON "customers"
    FOR EACH STATEMENT EXECUTE FUNCTION "entity_keep_referenced"('subscriptions', 'customer_id', 'id');

-- backup_jobs (customer_id) → customers (id)
CREATE TRIGGER "backup_jobs_parents_exist_insert" AFTER INSERT ON "backup_jobs"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "backup_jobs_parents_exist_update" AFTER UPDATE OF "customer_id" ON "backup_jobs"
    FOR EACH ROW WHEN (OLD."customer_id" IS DISTINCT FROM NEW."customer_id")
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_backup_jobs_delete" AFTER DELETE ON "customers"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('backup_jobs', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_backup_jobs_update" AFTER UPDATE OF "id" ON "customers"
    FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id")
    EXECUTE FUNCTION "entity_keep_referenced"('backup_jobs', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_backup_jobs_truncate" AFTER TRUNCATE ON "customers"
    FOR EACH STATEMENT EXECUTE FUNCTION "entity_keep_referenced"('backup_jobs', 'customer_id', 'id');

-- customer_status_history (customer_id) → customers (id)
CREATE TRIGGER "customer_status_history_parents_exist_insert" AFTER INSERT ON "customer_status_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customer_status_history_parents_exist_update" AFTER UPDATE OF "customer_id" ON "customer_status_history"
    FOR EACH ROW WHEN (OLD."customer_id" IS DISTINCT FROM NEW."customer_id")
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_customer_status_history_delete" AFTER DELETE ON "customers"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('customer_status_history', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_customer_status_history_update" AFTER UPDATE OF "id" ON "customers"
    FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id")
    EXECUTE FUNCTION "entity_keep_referenced"('customer_status_history', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_customer_status_history_truncate" AFTER TRUNCATE ON "customers"
    FOR EACH STATEMENT EXECUTE FUNCTION "entity_keep_referenced"('customer_status_history', 'customer_id', 'id');

-- customer_history (customer_id) → customers (id)
CREATE TRIGGER "customer_history_parents_exist_insert" AFTER INSERT ON "customer_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customer_history_parents_exist_update" AFTER UPDATE OF "customer_id" ON "customer_history"
    FOR EACH ROW WHEN (OLD."customer_id" IS DISTINCT FROM NEW."customer_id")
    EXECUTE FUNCTION "entity_parents_exist"('customers', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_customer_history_delete" AFTER DELETE ON "customers"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('customer_history', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_customer_history_update" AFTER UPDATE OF "id" ON "customers"
    FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id")
    EXECUTE FUNCTION "entity_keep_referenced"('customer_history', 'customer_id', 'id');
CREATE TRIGGER "customers_keep_customer_history_truncate" AFTER TRUNCATE ON "customers"
    FOR EACH STATEMENT EXECUTE FUNCTION "entity_keep_referenced"('customer_history', 'customer_id', 'id');

-- tenant_history (customer_id, tenant_id) → tenants (customer_id, id)
CREATE TRIGGER "tenant_history_parents_exist_insert" AFTER INSERT ON "tenant_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('tenants', 'customer_id,tenant_id', 'customer_id,id');
CREATE TRIGGER "tenant_history_parents_exist_update" AFTER UPDATE OF "customer_id", "tenant_id" ON "tenant_history"
    FOR EACH ROW WHEN ((OLD."customer_id", OLD."tenant_id") IS DISTINCT FROM (NEW."customer_id", NEW."tenant_id"))
    EXECUTE FUNCTION "entity_parents_exist"('tenants', 'customer_id,tenant_id', 'customer_id,id');
CREATE TRIGGER "tenants_keep_tenant_history_delete" AFTER DELETE ON "tenants"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('tenant_history', 'customer_id,tenant_id', 'customer_id,id');
CREATE TRIGGER "tenants_keep_tenant_history_update" AFTER UPDATE OF "customer_id", "id" ON "tenants"
    FOR EACH ROW WHEN ((OLD."customer_id", OLD."id") IS DISTINCT FROM (NEW."customer_id", NEW."id"))
    EXECUTE FUNCTION "entity_keep_referenced"('tenant_history', 'customer_id,tenant_id', 'customer_id,id');
CREATE TRIGGER "tenants_keep_tenant_history_truncate" AFTER TRUNCATE ON "tenants"
    FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('tenant_history', 'customer_id,tenant_id', 'customer_id,id');

-- subscription_history (customer_id, service, source, subscription_name) → subscriptions (the same)
CREATE TRIGGER "subscription_history_parents_exist_insert" AFTER INSERT ON "subscription_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('subscriptions', 'customer_id,service,source,subscription_name',
        'customer_id,service,source,subscription_name');
CREATE TRIGGER "subscription_history_parents_exist_update"
    AFTER UPDATE OF "customer_id", "service", "source", "subscription_name" ON "subscription_history"
    FOR EACH ROW WHEN ((OLD."customer_id", OLD."service", OLD."source", OLD."subscription_name")
                       IS DISTINCT FROM (NEW."customer_id", NEW."service", NEW."source", NEW."subscription_name"))
    EXECUTE FUNCTION "entity_parents_exist"('subscriptions', 'customer_id,service,source,subscription_name',
        'customer_id,service,source,subscription_name');
CREATE TRIGGER "subscriptions_keep_subscription_history_delete" AFTER DELETE ON "subscriptions"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('subscription_history', 'customer_id,service,source,subscription_name',
        'customer_id,service,source,subscription_name');
CREATE TRIGGER "subscriptions_keep_subscription_history_update"
    AFTER UPDATE OF "customer_id", "service", "source", "subscription_name" ON "subscriptions"
    FOR EACH ROW WHEN ((OLD."customer_id", OLD."service", OLD."source", OLD."subscription_name")
                       IS DISTINCT FROM (NEW."customer_id", NEW."service", NEW."source", NEW."subscription_name"))
    EXECUTE FUNCTION "entity_keep_referenced"('subscription_history', 'customer_id,service,source,subscription_name',
        'customer_id,service,source,subscription_name');
CREATE TRIGGER "subscriptions_keep_subscription_history_truncate" AFTER TRUNCATE ON "subscriptions"
    FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('subscription_history', 'customer_id,service,source,subscription_name',
        'customer_id,service,source,subscription_name');

-- backup_job_status_history (customer_id, job_id) → backup_jobs (customer_id, job_id)
CREATE TRIGGER "backup_job_status_history_parents_exist_insert" AFTER INSERT ON "backup_job_status_history"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_parents_exist"('backup_jobs', 'customer_id,job_id', 'customer_id,job_id');
CREATE TRIGGER "backup_job_status_history_parents_exist_update"
    AFTER UPDATE OF "customer_id", "job_id" ON "backup_job_status_history"
    FOR EACH ROW WHEN ((OLD."customer_id", OLD."job_id") IS DISTINCT FROM (NEW."customer_id", NEW."job_id"))
    EXECUTE FUNCTION "entity_parents_exist"('backup_jobs', 'customer_id,job_id', 'customer_id,job_id');
CREATE TRIGGER "backup_jobs_keep_backup_job_status_history_delete" AFTER DELETE ON "backup_jobs"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('backup_job_status_history', 'customer_id,job_id', 'customer_id,job_id');
CREATE TRIGGER "backup_jobs_keep_backup_job_status_history_update"
    AFTER UPDATE OF "customer_id", "job_id" ON "backup_jobs"
    FOR EACH ROW WHEN ((OLD."customer_id", OLD."job_id") IS DISTINCT FROM (NEW."customer_id", NEW."job_id"))
    EXECUTE FUNCTION "entity_keep_referenced"('backup_job_status_history', 'customer_id,job_id', 'customer_id,job_id');
CREATE TRIGGER "backup_jobs_keep_backup_job_status_history_truncate" AFTER TRUNCATE ON "backup_jobs"
    FOR EACH STATEMENT
    EXECUTE FUNCTION "entity_keep_referenced"('backup_job_status_history', 'customer_id,job_id', 'customer_id,job_id');
