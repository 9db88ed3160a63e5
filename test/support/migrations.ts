// The migrations as an earlier version shipped them, for tests that upgrade a database in
// place: the real migrator builds what that version left, then applies the rest.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  migrate,
  MIGRATIONS_DIR,
  readMigrations,
  type MigrateOptions,
} from "../../src/migrations.ts";
import { onAdmin } from "./database.ts";
import { createHarness, type Harness, type HarnessOptions } from "./harness.ts";

/** The password of the reader role of harnessBeforeUpgrade. */
export const READER_PASSWORD = "reader password";

/**
 * A harness on a database the migrations before `upgrade` built, with a login role `reader`
 * that may use schema reporting (the test grants it the rest). close() drops the database,
 * then the role (which then owns and holds nothing), and removes the migrations folder.
 */
export async function harnessBeforeUpgrade(
  upgrade: string,
  reader: string,
  options: HarnessOptions = {},
): Promise<Harness> {
  const migrationsDir = await migrationsBefore(upgrade);
  let h: Harness | undefined;
  const close = async () => {
    await h?.close();
    await onAdmin(`DROP ROLE IF EXISTS ${reader}`);
    rmSync(migrationsDir, { recursive: true, force: true });
  };
  try {
    h = await createHarness({ resources: ["customers"], ...options, migrationsDir });
    // Today's sync writes this older schema, so it must take what that sync writes: it
    // stages ids alone (a later migration drops the other columns, which must not refuse
    // its rows) and records sync_runs.on_start (a later migration adds it). Staging and
    // that column are outside what the upgrade tests compare, and they apply migrations
    // only through their upgrade.
    await h.db.query(`DO $$ BEGIN
      ALTER TABLE staging_customers ALTER job_status DROP NOT NULL, ALTER management_mode DROP NOT NULL;
    EXCEPTION WHEN undefined_column THEN NULL; END $$`);
    await h.db.query(
      "ALTER TABLE sync_runs ADD COLUMN IF NOT EXISTS on_start boolean NOT NULL DEFAULT false",
    );
    // It records each run's resources in sync_run_resources (a later migration creates it):
    // a stand-in of the same columns. The harness syncs customers alone (resources), so
    // nothing writes the other tables of that migration; but a run that removes customers
    // looks for their subscriptions, so an empty stand-in of its key is there too.
    await h.db.query(
      `CREATE TABLE IF NOT EXISTS sync_run_resources (
         run_id integer NOT NULL, resource text NOT NULL, outcome text NOT NULL, reason text,
         requests integer NOT NULL, records integer NOT NULL, rejected integer NOT NULL DEFAULT 0,
         PRIMARY KEY (run_id, resource))`,
    );
    await h.db.query(
      `CREATE TABLE IF NOT EXISTS subscriptions (
         customer_id text, service text, source text, subscription_name text, removed_at timestamptz)`,
    );
    await onAdmin(`CREATE ROLE ${reader} LOGIN PASSWORD '${READER_PASSWORD}'`);
    await h.db.query(`GRANT USAGE ON SCHEMA reporting TO ${reader}`);
    return { ...h, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Applies the migrations the harness's database lacks (those of `options.migrationsDir`, or
 * all), after taking back what harnessBeforeUpgrade added for today's sync where a migration
 * about to run adds it itself.
 */
export async function upgrade(h: Harness, options: MigrateOptions = {}) {
  await h.db.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '${RUN_ON_START}') THEN
      ALTER TABLE sync_runs DROP COLUMN IF EXISTS on_start;
    END IF; END $$`);
  // The stand-in goes only when the migration that creates the table runs now: a partial
  // upgrade leaves it for the syncs after it.
  const coming = await readMigrations(options.migrationsDir ?? MIGRATIONS_DIR);
  if (coming.some(({ name }) => name === SUBSCRIPTIONS_AND_JOBS)) {
    await h.db.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '${SUBSCRIPTIONS_AND_JOBS}') THEN
        DROP TABLE IF EXISTS sync_run_resources, subscriptions;
      END IF; END $$`);
  }
  return migrate(h.database.pool, options);
}

/** The migration that adds sync_runs.on_start. */
const RUN_ON_START = "20261204150000_run_on_start";
/** The migration that creates sync_run_resources (and the services' and jobs' tables). */
export const SUBSCRIPTIONS_AND_JOBS = "20261205090000_subscriptions_and_jobs";
/** The tables it creates. */
export const SUBSCRIPTIONS_AND_JOBS_TABLES = [
  "subscriptions",
  "subscription_history",
  "backup_jobs",
  "backup_job_status_history",
  "backup_job_type_codes",
  "backup_job_module_codes",
  "backup_job_status_codes",
  "sync_run_resources",
] as const;

/** A new folder holding the migrations before `upgrade`; the caller removes it. */
export function migrationsBefore(upgrade: string): Promise<string> {
  return copyMigrations((name) => name < upgrade);
}

/** A new folder holding the migrations up to and with `upgrade`; the caller removes it. */
export function migrationsThrough(upgrade: string): Promise<string> {
  return copyMigrations((name) => name <= upgrade);
}

async function copyMigrations(wanted: (name: string) => boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "es-migrations-"));
  for (const { name } of await readMigrations(MIGRATIONS_DIR)) {
    if (wanted(name)) cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  }
  return dir;
}
