// The migrator against real PostgreSQL. Tests that change migration files work on temporary
// copies of prisma/migrations; the real files are never touched. Each test starts from an
// empty public schema in this file's own database.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.ts";
import { migrate, MigrationError, MIGRATIONS_DIR } from "../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

const MIGRATION_NAMES = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const FIRST = MIGRATION_NAMES[0] ?? "";

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

let db: TestDatabase;
let pool: pg.Pool;
const tempDirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase("es_migrate");
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
});

afterAll(async () => {
  await pool.end();
  await db.drop();
});

beforeEach(async () => {
  // The reporting migration adds schemas of its own next to public.
  await db.query(
    "DROP SCHEMA IF EXISTS reporting, reporting_internal CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public",
  );
});

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary copy of prisma/migrations that a test may change. */
function copyMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), "es-migrations-"));
  tempDirs.push(dir);
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

function addMigration(dir: string, name: string, sql: string): void {
  mkdirSync(join(dir, name));
  writeFileSync(join(dir, name, "migration.sql"), sql);
}

async function rows(): Promise<MigrationRow[]> {
  return db.query<MigrationRow>(
    `SELECT * FROM "_prisma_migrations" ORDER BY migration_name, started_at`,
  );
}

async function tableExists(name: string): Promise<boolean> {
  const [row] = await db.query<{ oid: string | null }>("SELECT to_regclass($1)::text AS oid", [
    name,
  ]);
  return row?.oid != null;
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

async function expectMigrationError(
  promise: Promise<unknown>,
  ...patterns: RegExp[]
): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MigrationError);
  for (const pattern of patterns) expect((error as Error).message).toMatch(pattern);
}

describe("migrate", () => {
  it("applies every migration to a fresh database and records it as Prisma Migrate does", async () => {
    expect(MIGRATION_NAMES.length).toBeGreaterThan(0);
    const result = await migrate(pool);
    expect(result).toEqual({ applied: MIGRATION_NAMES, alreadyApplied: 0 });

    const recorded = await rows();
    expect(recorded.map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);
    for (const row of recorded) {
      expect(row.id).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(row.checksum).toBe(sha256(join(MIGRATIONS_DIR, row.migration_name, "migration.sql")));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at?.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row).toMatchObject({ applied_steps_count: 1, logs: null, rolled_back_at: null });
    }
    expect(await tableExists("customers")).toBe(true);
  });

  it("creates _prisma_migrations with Prisma Migrate's definition", async () => {
    await migrate(pool);
    const columns = await db.query(
      `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
       FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      {
        column_name: "id",
        data_type: "character varying",
        character_maximum_length: 36,
        is_nullable: "NO",
        column_default: null,
      },
      {
        column_name: "checksum",
        data_type: "character varying",
        character_maximum_length: 64,
        is_nullable: "NO",
        column_default: null,
      },
      {
        column_name: "finished_at",
        data_type: "timestamp with time zone",
        character_maximum_length: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "migration_name",
        data_type: "character varying",
        character_maximum_length: 255,
        is_nullable: "NO",
        column_default: null,
      },
      {
        column_name: "logs",
        data_type: "text",
        character_maximum_length: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "rolled_back_at",
        data_type: "timestamp with time zone",
        character_maximum_length: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "started_at",
        data_type: "timestamp with time zone",
        character_maximum_length: null,
        is_nullable: "NO",
        column_default: "now()",
      },
      {
        column_name: "applied_steps_count",
        data_type: "integer",
        character_maximum_length: null,
        is_nullable: "NO",
        column_default: "0",
      },
    ]);
    const [primaryKey] = await db.query<{ columns: string }>(
      `SELECT string_agg(a.attname, ',') AS columns FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
       WHERE i.indrelid = '"_prisma_migrations"'::regclass AND i.indisprimary`,
    );
    expect(primaryKey?.columns).toBe("id");
  });

  it("applies nothing the second time", async () => {
    await migrate(pool);
    const before = await rows();
    expect(await migrate(pool)).toEqual({ applied: [], alreadyApplied: MIGRATION_NAMES.length });
    expect(await rows()).toEqual(before);
  });

  it("lets two concurrent migrators apply each migration exactly once", async () => {
    const other = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const results = await Promise.all([migrate(pool), migrate(other), migrate(pool)]);
      expect(results.flatMap((result) => result.applied).sort()).toEqual(MIGRATION_NAMES);
      expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
    } finally {
      await other.end();
    }
    expect((await rows()).map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);
  });

  it("waits for the lock Prisma Migrate holds and logs that it is waiting", async () => {
    const holder = await pool.connect();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    try {
      await holder.query("SELECT pg_advisory_lock(72707369)");
      const migrating = migrate(pool, { log: createLogger("info", sink) });
      await expect
        .poll(() => lines.map((line) => line.msg))
        .toContain("another migrator holds the migration lock; waiting for it");
      // It names who holds the key, which may be any login, not a migrator.
      const [holderPid] = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid"))
        .rows;
      expect(
        lines.find((line) => line.msg?.toString().startsWith("another migrator")),
      ).toMatchObject({
        heldBy: [expect.stringMatching(new RegExp(`^pid ${holderPid?.pid}, user \\w+`))],
      });
      expect(await tableExists("_prisma_migrations")).toBe(false);
      await holder.query("SELECT pg_advisory_unlock(72707369)");
      expect((await migrating).applied).toEqual(MIGRATION_NAMES);
    } finally {
      holder.release();
    }
  });

  it("releases the advisory lock when it is done, also after a failure", async () => {
    const dir = copyMigrations();
    addMigration(dir, "99999999999999_broken", "SELECT * FROM no_such_table;\n");
    await expect(migrate(pool, { migrationsDir: dir })).rejects.toThrow(MigrationError);
    const [lock] = await db.query<{ held: string }>(
      `SELECT count(*)::text AS held FROM pg_locks
       WHERE locktype = 'advisory' AND objid = 72707369
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(lock?.held).toBe("0");
  });

  it("logs one line per applied migration and a summary, without the database URL", async () => {
    const output: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output.push(chunk.toString());
        done();
      },
    });
    await migrate(pool, { log: createLogger("info", sink) });
    const lines = output.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      lines.filter((line) => line.msg === "applied migration").map((line) => line.migration),
    ).toEqual(MIGRATION_NAMES);
    expect(lines.at(-1)).toMatchObject({
      msg: "database migrated",
      applied: MIGRATION_NAMES,
      alreadyApplied: 0,
    });
    expect(output.join("")).not.toContain(db.name);
    expect(output.join("")).not.toMatch(/postgres(ql)?:\/\//);
  });

  it("refuses an applied migration whose file changed, and applies nothing after it", async () => {
    const dir = copyMigrations();
    await migrate(pool, { migrationsDir: dir });
    writeFileSync(
      join(dir, FIRST, "migration.sql"),
      readFileSync(join(dir, FIRST, "migration.sql"), "utf8") + "\n",
    );
    addMigration(dir, "99999999999999_next", 'CREATE TABLE "next_table" (id integer);\n');

    await expectMigrationError(
      migrate(pool, { migrationsDir: dir }),
      new RegExp(`Migration ${FIRST} was changed after it was applied`),
      /Restore the original file/,
      /add a new one/,
    );
    expect(await tableExists("next_table")).toBe(false);
    expect((await rows()).map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);
  });

  it("refuses a database migrated by a newer elements-sync", async () => {
    await migrate(pool);
    await db.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
       VALUES (gen_random_uuid(), repeat('a', 64), '29991231000000_future', now(), 1)`,
    );
    const dir = copyMigrations();
    addMigration(dir, "99999999999999_next", 'CREATE TABLE "next_table" (id integer);\n');

    await expectMigrationError(
      migrate(pool, { migrationsDir: dir }),
      /29991231000000_future/,
      /migrated by a newer elements-sync/,
      /Upgrade/,
    );
    expect(await tableExists("next_table")).toBe(false);
  });

  it("refuses to continue past a failed migration recorded by Prisma until it is resolved", async () => {
    const dir = copyMigrations();
    addMigration(dir, "99999999999998_half", 'CREATE TABLE "half_table" (id integer);\n');
    addMigration(dir, "99999999999999_next", 'CREATE TABLE "next_table" (id integer);\n');
    await migrate(pool);
    await db.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, applied_steps_count)
       VALUES (gen_random_uuid(), repeat('b', 64), '99999999999998_half', 'error: boom', 0)`,
    );

    await expectMigrationError(
      migrate(pool, { migrationsDir: dir }),
      /99999999999998_half/,
      /prisma migrate resolve/,
    );
    expect(await tableExists("half_table")).toBe(false);
    expect(await tableExists("next_table")).toBe(false);
  });

  it("ignores rows Prisma marked as rolled back and applies that migration again", async () => {
    const dir = copyMigrations();
    addMigration(dir, "99999999999999_next", 'CREATE TABLE "next_table" (id integer);\n');
    await migrate(pool);
    await db.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, rolled_back_at, applied_steps_count)
       VALUES (gen_random_uuid(), repeat('c', 64), '99999999999999_next', now(), 0)`,
    );

    expect(await migrate(pool, { migrationsDir: dir })).toEqual({
      applied: ["99999999999999_next"],
      alreadyApplied: MIGRATION_NAMES.length,
    });
    expect(await tableExists("next_table")).toBe(true);
  });

  it("rolls back a migration that fails part-way, leaves no row for it, and applies it once fixed", async () => {
    const dir = copyMigrations();
    const broken = join(dir, "99999999999999_broken", "migration.sql");
    addMigration(
      dir,
      "99999999999999_broken",
      'CREATE TABLE "broken_first" (id integer);\nSELECT * FROM no_such_table;\n',
    );

    await expectMigrationError(
      migrate(pool, { migrationsDir: dir }),
      /99999999999999_broken/,
      /relation "no_such_table" does not exist/,
      /line 2 of migration\.sql/,
    );
    expect(await tableExists("broken_first")).toBe(false);
    expect((await rows()).map((row) => row.migration_name)).toEqual(MIGRATION_NAMES);

    writeFileSync(broken, 'CREATE TABLE "broken_first" (id integer);\n');
    expect((await migrate(pool, { migrationsDir: dir })).applied).toEqual([
      "99999999999999_broken",
    ]);
    expect(await tableExists("broken_first")).toBe(true);
  });

  it("refuses a migration folder without migration.sql before touching the database", async () => {
    const dir = copyMigrations();
    mkdirSync(join(dir, "99999999999999_empty"));
    await expectMigrationError(
      migrate(pool, { migrationsDir: dir }),
      /99999999999999_empty/,
      /migration\.sql/,
    );
    expect(await tableExists("_prisma_migrations")).toBe(false);
  });

  it("applies in name order and ignores files beside the folders", async () => {
    const dir = copyMigrations();
    addMigration(dir, "99999999999999_second", 'ALTER TABLE "ordered" ADD COLUMN b integer;\n');
    addMigration(dir, "99999999999998_first", 'CREATE TABLE "ordered" (a integer);\n');
    writeFileSync(join(dir, "README.md"), "not a migration\n");
    expect((await migrate(pool, { migrationsDir: dir })).applied).toEqual([
      ...MIGRATION_NAMES,
      "99999999999998_first",
      "99999999999999_second",
    ]);
  });

  it("finds prisma/migrations from any working directory", () => {
    const moduleUrl = new URL("../src/migrations.ts", import.meta.url).href;
    const printed = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { MIGRATIONS_DIR } from ${JSON.stringify(moduleUrl)}; console.log(MIGRATIONS_DIR)`,
      ],
      { cwd: tmpdir(), encoding: "utf8" },
    );
    expect(printed.trim()).toBe(MIGRATIONS_DIR);
    expect(readdirSync(MIGRATIONS_DIR)).toContain("migration_lock.toml");
  });
});
