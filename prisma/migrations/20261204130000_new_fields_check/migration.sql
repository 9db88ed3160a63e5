-- sync_runs.new_fields is a list, and Prisma's schema cannot declare a list NOT NULL: the
-- column as Prisma Migrate would create it from schema.prisma is nullable, so a NOT NULL
-- column is drift that `prisma migrate diff` reports. A CHECK constraint (which Prisma
-- neither expresses nor diffs) keeps NULL out instead, as NOT NULL did. The CHECK is added
-- first, so no moment allows a NULL.
ALTER TABLE "sync_runs"
    ADD CONSTRAINT "sync_runs_new_fields_not_null" CHECK ("new_fields" IS NOT NULL);
ALTER TABLE "sync_runs" ALTER COLUMN "new_fields" DROP NOT NULL;
