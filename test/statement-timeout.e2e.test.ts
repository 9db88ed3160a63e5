// The worker's statements carry a statement_timeout equal to DATABASE_QUERY_TIMEOUT_MS: a
// statement stuck behind a lock (a BI session holding a table) is cancelled by PostgreSQL
// itself, not left waiting in the lock queue after the worker gave up on it.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db.ts";
import { migrate } from "../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

let db: TestDatabase | undefined;
let database: Database | undefined;
let holder: pg.Client | undefined;
afterEach(async () => {
  await holder?.end();
  await database?.close();
  await db?.drop();
  holder = database = db = undefined;
});

describe("statement_timeout", () => {
  it("PostgreSQL cancels a worker statement waiting for a lock past DATABASE_QUERY_TIMEOUT_MS", async () => {
    db = await createTestDatabase("es_stmt");
    database = openDatabase(db.url, { queryTimeoutMs: 1000, applicationName: "es-stmt-test" });
    await migrate(database.pool);
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE");

    await expect(database.pool.query("SELECT count(*) FROM customers")).rejects.toThrow();
    const waiting = async () => {
      const [row] = await (db as TestDatabase).query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE application_name = 'es-stmt-test' AND wait_event_type = 'Lock'`,
      );
      return row?.n;
    };
    await expect.poll(waiting, { timeout: 3_000 }).toBe(0);
    const [setting] = await database.prisma.$queryRaw<{ value: string }[]>`
      SELECT current_setting('statement_timeout') AS value`;
    expect(setting?.value).toBe("1s");
  });
});
