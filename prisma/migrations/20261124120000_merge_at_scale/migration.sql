-- Every run rewrites each seen customer and tenant (last_seen_at moves). With pages half
-- empty, the new version of a row fits on its own page and no indexed column changes, so
-- PostgreSQL makes it a HOT update: no index entries to add, and the old version is pruned
-- when the page is next read. Measured at 100,000 customers and 200,000 tenants, this makes
-- the unchanged re-run's updates about five times faster. Applies to pages written from now
-- on; existing rows move to such pages as they are updated.
ALTER TABLE "customers" SET (fillfactor = 50);
ALTER TABLE "tenants" SET (fillfactor = 50);
