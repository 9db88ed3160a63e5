// The migrator's statements (src/migrations.ts decides what to apply and when): Prisma
// Migrate's bookkeeping table _prisma_migrations, its advisory lock, and what the migrator
// reads to explain a refusal or a wait.
import type { Queryable } from "../db.ts";

/** Whether elements-sync's tables exist: false before the first migration. */
export async function hasSyncTables(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('sync_runs') IS NOT NULL AS present",
  );
  return rows[0]?.present === true;
}

/** Takes the session-level advisory lock `key` if free; false when another session holds it. */
export async function tryAdvisoryLock(session: Queryable, key: number): Promise<boolean> {
  const { rows } = await session.query<{ locked: boolean }>(
    "SELECT pg_try_advisory_lock($1) AS locked",
    [key],
  );
  return rows[0]?.locked === true;
}

/** Waits for the session-level advisory lock `key`. */
export async function advisoryLock(session: Queryable, key: number): Promise<void> {
  await session.query("SELECT pg_advisory_lock($1)", [key]);
}

export async function advisoryUnlock(session: Queryable, key: number): Promise<void> {
  await session.query("SELECT pg_advisory_unlock($1)", [key]);
}

/** Who holds the advisory lock `key` in this database, e.g. "pid 7, user u, application 'a'". */
export async function readAdvisoryLockHolders(db: Queryable, key: number): Promise<string[]> {
  const { rows } = await db.query<{ holder: string }>(
    `SELECT format('pid %s, user %s, application %L', a.pid, a.usename, a.application_name) AS holder
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [key],
  );
  return rows.map((row) => row.holder);
}

export interface ExistingObject {
  /** Schema-qualified and quoted where needed, as psql shows it. */
  name: string;
  relname: string;
  /** pg_class.relkind, or `schema`. */
  kind: string;
  inOwnSchema: boolean;
}

/**
 * The tables, views and schemas already where elements-sync's go (its own schema, reporting,
 * reporting_internal), but the migration history and what an extension brought.
 */
export async function readExistingObjects(db: Queryable): Promise<ExistingObject[]> {
  const { rows } = await db.query<ExistingObject>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relname::text AS relname,
            c.relkind::text AS kind, n.nspname = current_schema() AS "inOwnSchema"
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN (current_schema(), 'reporting', 'reporting_internal')
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND c.relname <> '_prisma_migrations'
       -- Tables an extension brought (PostGIS's spatial_ref_sys) are the extension's.
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     UNION ALL
     SELECT format('%I', nspname), nspname::text, 'schema', false FROM pg_namespace
     WHERE nspname IN ('reporting', 'reporting_internal')
     ORDER BY 1`,
  );
  return rows;
}

export async function hasMigrationHistory(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(
    `SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS exists`,
  );
  return rows[0]?.exists === true;
}

export interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/** The migrations recorded as applied or started, not rolled back, in the order they ran. */
export async function readAppliedMigrations(db: Queryable): Promise<MigrationRow[]> {
  const { rows } = await db.query<MigrationRow>(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL ORDER BY started_at, migration_name`,
  );
  return rows;
}

/** How long the rest of the transaction waits for a lock (SET takes no parameters). */
export async function setLocalLockTimeout(tx: Queryable, lockTimeoutMs: number): Promise<void> {
  await tx.query(`SET LOCAL lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
}

/** Prisma Migrate's own DDL, so its tooling accepts the table as one it created. */
export async function createMigrationHistory(tx: Queryable): Promise<void> {
  await tx.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`);
}

export async function recordMigrationStarted(
  tx: Queryable,
  migration: { id: string; checksum: string; name: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), 0)`,
    [migration.id, migration.checksum, migration.name],
  );
}

/** A migration file's statements. No parameters: the simple query protocol is the one that accepts several statements. */
export async function runMigrationFile(tx: Queryable, sql: string): Promise<void> {
  await tx.query(sql);
}

export async function recordMigrationFinished(tx: Queryable, id: string): Promise<void> {
  await tx.query(
    `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
    [id],
  );
}

/**
 * The other sessions holding locks on this database's tables, oldest transaction first,
 * e.g. "pid 7 (application 'a', user u, idle in transaction since 2026-…Z)".
 */
export async function readRelationLockHolders(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ holder: string }>(
    `SELECT format('pid %s (application %L, user %s, %s since %s)', a.pid, a.application_name,
                   a.usename, a.state,
                   to_char(coalesce(a.xact_start, a.state_change) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS"Z"')) AS holder
     FROM pg_stat_activity a
     WHERE a.pid <> pg_backend_pid()
       AND a.pid IN (SELECT l.pid FROM pg_locks l
                     WHERE l.granted AND l.locktype = 'relation'
                       AND l.database = (SELECT oid FROM pg_database
                                         WHERE datname = current_database()))
     ORDER BY coalesce(a.xact_start, a.state_change)`,
  );
  return rows.map((row) => row.holder);
}
