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
import * as sql from "./sql/migrations.ts";

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

/** Throws NotMigratedError when the database holds no elements-sync tables (a --no-migrate start). */
export async function assertMigrated(pool: pg.Pool): Promise<void> {
  if (!(await sql.hasSyncTables(pool))) throw new NotMigratedError();
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
      await sql.advisoryUnlock(session, MIGRATION_LOCK_KEY).catch(discard);
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
  const rows = (await sql.hasMigrationHistory(client))
    ? await sql.readAppliedMigrations(client)
    : [];
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
  if (!(await sql.hasMigrationHistory(client))) return false;
  const rows = await sql.readAppliedMigrations(client);
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
  if (await sql.tryAdvisoryLock(client, MIGRATION_LOCK_KEY)) return;
  log?.info(
    {
      lockKey: MIGRATION_LOCK_KEY,
      // Who holds the lock, so an operator can tell a migrator from anything else.
      heldBy: await sql.readAdvisoryLockHolders(client, MIGRATION_LOCK_KEY),
    },
    "another migrator holds the migration lock; waiting for it",
  );
  await sql.advisoryLock(client, MIGRATION_LOCK_KEY);
}

/**
 * A database with no migration history gets elements-sync's tables only if it holds none
 * of its own there: its tables could clash with them (a `customers` table) or be mistaken
 * for them. What looks like elements-sync's own tables without their history is left to
 * fail on the first migration, whose message says how to restore the history.
 */
async function refuseForeignTables(client: Session): Promise<void> {
  const rows = await sql.readExistingObjects(client);
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

/** Refuses to touch a database whose history disagrees with the files; checked before applying anything. */
function checkHistory(files: readonly MigrationFile[], rows: readonly sql.MigrationRow[]): void {
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
      await sql.setLocalLockTimeout(tx, lockTimeoutMs);
      await sql.createMigrationHistory(tx);
      await sql.recordMigrationStarted(tx, { id, checksum: file.checksum, name: file.name });
      await sql.runMigrationFile(tx, file.sql);
      await sql.recordMigrationFinished(tx, id);
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
  const rows = await sql.readRelationLockHolders(client).catch((): string[] => []);
  if (rows.length === 0) return "The session that held the lock is gone.";
  return (
    `Held by ${rows.join("; ")}: end that transaction (or its session, ` +
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
