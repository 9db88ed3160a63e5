// The migrator does not wait forever behind a session that holds a table: its DDL would
// queue every other query of that table behind it. It gives up after lock_timeout, rolls
// the migration back and names who blocks it (pid, application, state, since when).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { migrate, MigrationError, MIGRATIONS_DIR } from "../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

let db: TestDatabase | undefined;
let dir: string | undefined;
const clients: pg.Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.end();
  await db?.drop();
  db = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the migrator's lock timeout", () => {
  it("names the BI session left idle in a transaction instead of waiting for it", async () => {
    db = await createTestDatabase("es_locktimeout");
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      await migrate(pool);
      // A BI tool's session: it read a table in a transaction it never ended.
      const bi = new pg.Client({ connectionString: db.url, application_name: "metabase" });
      clients.push(bi);
      await bi.connect();
      await bi.query("BEGIN");
      await bi.query("SELECT count(*) FROM customers");
      const [{ pid } = { pid: 0 }] = (
        await bi.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")
      ).rows;

      dir = mkdtempSync(join(tmpdir(), "es-migrations-"));
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      mkdirSync(join(dir, "29990101000000_later"));
      writeFileSync(
        join(dir, "29990101000000_later", "migration.sql"),
        "ALTER TABLE customers ADD COLUMN later integer;",
      );
      const started = performance.now();
      const error: unknown = await migrate(pool, { migrationsDir: dir, lockTimeoutMs: 500 }).catch(
        (caught: unknown) => caught,
      );
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Migration 29990101000000_later waited 500 ms for a lock and was rolled back; nothing of it was applied\\. ` +
            `Held by pid ${pid} \\(application 'metabase', user \\w+, idle in transaction since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\): ` +
            `end that transaction \\(or its session, SELECT pg_terminate_backend\\(<pid>\\)\\)\\. Then migrate again\\.$`,
        ),
      );
      const [row] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE migration_name = '29990101000000_later'`,
      );
      expect(row?.n).toBe(0);

      // Once the session ends its transaction, the same migration goes through.
      await bi.query("ROLLBACK");
      expect((await migrate(pool, { migrationsDir: dir, lockTimeoutMs: 500 })).applied).toEqual([
        "29990101000000_later",
      ]);
    } finally {
      await pool.end();
    }
  });
});
