// Applies the hand-written migrations in prisma/migrations on start, the way graphile-worker
// migrates itself: no Prisma schema engine needed. Bookkeeping is Prisma Migrate's own
// (_prisma_migrations, same checksums, same advisory lock), so `prisma migrate deploy` and
// `prisma migrate status` read a database migrated here as if they had done it themselves.
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { inTransaction, withSession, type Session } from "./db.ts";
import { errorMessage, NotMigratedError, SyncError } from "./errors.ts";
import type { Logger } from "./logger.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../prisma/migrations", import.meta.url));

/** The key Prisma Migrate locks, so this migrator and `prisma migrate deploy` exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

export class MigrationError extends SyncError {
  override name = "MigrationError";
}

export interface MigrationResult {
  /** Names of the migrations this call applied, in order. */
  applied: string[];
  /** How many migrations on disk were already applied before this call. */
  alreadyApplied: number;
}

export interface MigrateOptions {
  migrationsDir?: string;
  log?: Logger;
  /** How long a migration waits for a table's lock before it gives up (default 10 s). */
  lockTimeoutMs?: number;
}

/**
 * Default of MigrateOptions.lockTimeoutMs. While DDL waits for a lock, every query of that
 * table queues behind it: better to give up soon, naming who blocks, than to stall the lot.
 */
export const MIGRATION_LOCK_TIMEOUT_MS = 10_000;

/** PostgreSQL's SQLSTATE lock_not_available, raised when lock_timeout expires. */
const LOCK_NOT_AVAILABLE = "55P03";

export interface MigrationFile {
  name: string;
  sql: string;
  /** Lowercase hex SHA-256 of the file's bytes, as Prisma Migrate computes it. */
  checksum: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

// Prisma Migrate's own DDL, so its tooling accepts the table as one it created.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/** Throws NotMigratedError when the database holds no elements-sync tables (a --no-migrate start). */
export async function assertMigrated(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ present: boolean }>(
    "SELECT to_regclass('sync_runs') IS NOT NULL AS present",
  );
  if (rows[0]?.present !== true) throw new NotMigratedError();
}

export async function migrate(
  pool: pg.Pool,
  options: MigrateOptions = {},
): Promise<MigrationResult> {
  const {
    migrationsDir = MIGRATIONS_DIR,
    log,
    lockTimeoutMs = MIGRATION_LOCK_TIMEOUT_MS,
  } = options;
  const files = await readMigrations(migrationsDir);
  return withSession(pool, async (session, discard) => {
    // Every sync migrates first. With nothing to apply it takes no lock: any login can hold
    // Prisma's advisory key, and a sync must not wait for a reader that does.
    if (await isUpToDate(session, files)) return upToDate(files, log);
    await acquireLock(session, log);
    try {
      return await migrateLocked(session, files, lockTimeoutMs, log);
    } finally {
      // Ending the session is the only other way to free a session-level lock.
      await session.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(discard);
    }
  });
}

async function migrateLocked(
  client: Session,
  files: MigrationFile[],
  lockTimeoutMs: number,
  log?: Logger,
): Promise<MigrationResult> {
  // Created with the first migration applied, so a refused or failed first run leaves no trace.
  const rows = (await historyExists(client)) ? await readAppliedRows(client) : [];
  checkHistory(files, rows);
  if (rows.length === 0) await refuseForeignTables(client);
  const done = new Set(
    rows.filter((row) => row.finished_at !== null).map((row) => row.migration_name),
  );
  const pending = files.filter((file) => !done.has(file.name));
  for (const file of pending) {
    await applyMigration(client, file, lockTimeoutMs);
    log?.info({ migration: file.name }, "applied migration");
  }
  const result = {
    applied: pending.map((file) => file.name),
    alreadyApplied: files.length - pending.length,
  };
  log?.info(result, pending.length > 0 ? "database migrated" : "database schema is up to date");
  return result;
}

/** Whether every migration on disk is applied, unchanged, and the database has no other. */
async function isUpToDate(client: Session, files: readonly MigrationFile[]): Promise<boolean> {
  if (!(await historyExists(client))) return false;
  const rows = await readAppliedRows(client);
  const applied = new Map(
    rows.filter((row) => row.finished_at !== null).map((row) => [row.migration_name, row.checksum]),
  );
  return (
    rows.every((row) => row.finished_at !== null) &&
    applied.size === files.length &&
    files.every((file) => applied.get(file.name) === file.checksum)
  );
}

function upToDate(files: readonly MigrationFile[], log?: Logger): MigrationResult {
  const result = { applied: [], alreadyApplied: files.length };
  log?.info(result, "database schema is up to date");
  return result;
}

async function acquireLock(client: Session, log?: Logger): Promise<void> {
  const tried = await client.query<{ locked: boolean }>(
    "SELECT pg_try_advisory_lock($1) AS locked",
    [MIGRATION_LOCK_KEY],
  );
  if (tried.rows[0]?.locked === true) return;
  log?.info(
    { lockKey: MIGRATION_LOCK_KEY, heldBy: await describeLockHolders(client) },
    "another migrator holds the migration lock; waiting for it",
  );
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
}

/** Who holds the migration lock, so an operator can tell a migrator from anything else. */
async function describeLockHolders(client: Session): Promise<string[]> {
  const { rows } = await client.query<{ holder: string }>(
    `SELECT format('pid %s, user %s, application %L', a.pid, a.usename, a.application_name) AS holder
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [MIGRATION_LOCK_KEY],
  );
  return rows.map((row) => row.holder);
}

/**
 * A database with no migration history gets elements-sync's tables only if it holds none
 * of its own there: its tables could clash with them (a `customers` table) or be mistaken
 * for them. What looks like elements-sync's own tables without their history is left to
 * fail on the first migration, whose message says how to restore the history.
 */
async function refuseForeignTables(client: Session): Promise<void> {
  const { rows } = await client.query<ForeignObject>(
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
  if (rows.length === 0) return;
  const ownTables = new Set(rows.filter((row) => row.inOwnSchema).map((row) => row.relname));
  if (OWN_TABLES.every((table) => ownTables.has(table))) return;
  const listed = rows.map((row) =>
    row.kind === "r" ? row.name : `${row.name} (${KINDS[row.kind] ?? row.kind})`,
  );
  throw new MigrationError(
    `Nothing was migrated. The database already holds tables that elements-sync did not create: ` +
      `${listed.join(", ")}. elements-sync needs a database of its own: point DATABASE_URL at an ` +
      `empty database, or move these tables to another schema.`,
  );
}

interface ForeignObject {
  /** Schema-qualified and quoted where needed, as psql shows it. */
  name: string;
  relname: string;
  /** pg_class.relkind, or `schema`. */
  kind: string;
  inOwnSchema: boolean;
}

/** Tables only elements-sync creates (the init migration's); all of them: its own schema. */
const OWN_TABLES = ["sync_runs", "customer_status_history", "staging_customers"];

const KINDS: Record<string, string> = {
  p: "partitioned table",
  v: "view",
  m: "materialized view",
  f: "foreign table",
  schema: "schema",
};

/** The migration folders in `dir`, in the order they apply (by name, as Prisma Migrate does). */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new MigrationError(`Cannot read the migrations directory ${dir}: ${errorMessage(error)}`);
  }
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(names.map((name) => readMigration(dir, name)));
}

async function readMigration(dir: string, name: string): Promise<MigrationFile> {
  const path = join(dir, name, "migration.sql");
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new MigrationError(
      `Migration ${name} has no readable migration.sql (${path}): ${errorMessage(error)}`,
    );
  }
  return {
    name,
    sql: bytes.toString("utf8"),
    checksum: createHash("sha256").update(bytes).digest("hex"),
  };
}

async function historyExists(client: Session): Promise<boolean> {
  const result = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS exists`,
  );
  return result.rows[0]?.exists === true;
}

async function readAppliedRows(client: Session): Promise<MigrationRow[]> {
  const result = await client.query<MigrationRow>(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL ORDER BY started_at, migration_name`,
  );
  return result.rows;
}

/** Refuses to touch a database whose history disagrees with the files; checked before applying anything. */
function checkHistory(files: readonly MigrationFile[], rows: readonly MigrationRow[]): void {
  const byName = new Map(files.map((file) => [file.name, file]));
  const problems: string[] = [];
  for (const row of rows) {
    const file = byName.get(row.migration_name);
    if (row.finished_at === null) {
      problems.push(
        `Migration ${row.migration_name} failed earlier and is recorded as unfinished in _prisma_migrations. ` +
          `Fix the database by hand, then resolve it with ` +
          `\`prisma migrate resolve --applied ${row.migration_name}\` or \`--rolled-back ${row.migration_name}\`.`,
      );
    } else if (file === undefined) {
      problems.push(
        `Migration ${row.migration_name} is applied to the database but is not in this version of ` +
          `elements-sync: the database was migrated by a newer elements-sync. Upgrade elements-sync.`,
      );
    } else if (file.checksum !== row.checksum) {
      problems.push(
        `Migration ${row.migration_name} was changed after it was applied (checksum ${file.checksum} on disk, ` +
          `${row.checksum} in _prisma_migrations), or its row there was edited. Restore the original file; ` +
          `never edit an applied migration, add a new one instead.`,
      );
    }
  }
  if (problems.length > 0) throw new MigrationError(`Nothing was migrated. ${problems.join(" ")}`);
}

async function applyMigration(
  client: Session,
  file: MigrationFile,
  lockTimeoutMs: number,
): Promise<void> {
  const id = randomUUID();
  try {
    await inTransaction(client, async (tx) => {
      // SET takes no parameters; the value is an integer of ours.
      await tx.query(`SET LOCAL lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
      await tx.query(CREATE_MIGRATIONS_TABLE);
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), 0)`,
        [id, file.checksum, file.name],
      );
      // No parameters: the simple query protocol is the one that accepts several statements.
      await tx.query(file.sql);
      await tx.query(
        `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
        [id],
      );
    });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) {
      throw new MigrationError(
        `Migration ${file.name} waited ${lockTimeoutMs} ms for a lock and was rolled back; nothing of it was applied. ` +
          `${await describeBlockers(client)} Then migrate again.`,
        { cause: error },
      );
    }
    throw new MigrationError(
      `Migration ${file.name} failed and was rolled back: ${errorMessage(error)}${whereInFile(file.sql, error)}.` +
        historyLostHint(file.name, error),
      { cause: error },
    );
  }
}

/**
 * The other sessions holding locks on this database's tables, oldest transaction first:
 * typically a BI tool's session left idle in an open transaction.
 */
async function describeBlockers(client: Session): Promise<string> {
  const { rows } = await client
    .query<{ holder: string }>(
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
    )
    .catch(() => ({ rows: [] }));
  if (rows.length === 0) return "The session that held the lock is gone.";
  const pids = rows.map((row) => row.holder);
  return (
    `Held by ${pids.join("; ")}: end that transaction (or its session, ` +
    "SELECT pg_terminate_backend(<pid>))."
  );
}

/**
 * SQLSTATEs of "already exists" (column, object, function, schema, table): a pending
 * migration meeting what it creates means _prisma_migrations lost its row, not a bad file.
 */
const ALREADY_EXISTS = new Set(["42701", "42710", "42723", "42P06", "42P07"]);

function historyLostHint(name: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !ALREADY_EXISTS.has(code)) return "";
  return (
    ` The database already has what this migration creates, but _prisma_migrations does not record it. ` +
    `If it is not elements-sync's, rename it or move it to another schema. If it is, its row (or the ` +
    `whole table) was deleted: restore _prisma_migrations from a backup, or, if the schema ` +
    `is known to match, record it with \`prisma migrate resolve --applied ${name}\`.`
  );
}

/** ` (line N of migration.sql)` from a PostgreSQL error's 1-based character position, if it has one. */
function whereInFile(sql: string, error: unknown): string {
  const position = Number((error as { position?: unknown } | null)?.position);
  if (!Number.isInteger(position) || position < 1) return "";
  const line = sql.slice(0, position - 1).split("\n").length;
  return ` (line ${line} of migration.sql)`;
}
