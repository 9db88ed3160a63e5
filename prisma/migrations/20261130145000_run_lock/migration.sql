-- The run lock becomes a lock on an object only the syncing role may lock. Any login can
-- take any advisory lock key, the read-only reporting role included, and so could keep
-- every sync from starting; LOCK ... IN EXCLUSIVE MODE needs UPDATE, DELETE or TRUNCATE
-- on the object, which only its owner (the role that migrates) has.
-- A view over no table: locking it locks nothing else, and VACUUM and ANALYZE, which would
-- wait for a lock on a table, never touch a view. EXCLUSIVE mode admits ACCESS SHARE, so
-- pg_dump and plain SELECTs never wait for a run, nor a run for them.
CREATE VIEW "sync_run_lock" AS SELECT true AS "held";
COMMENT ON VIEW "sync_run_lock" IS 'elements-sync run lock: a run holds it in EXCLUSIVE mode; holds no data';
REVOKE ALL ON "sync_run_lock" FROM PUBLIC;
