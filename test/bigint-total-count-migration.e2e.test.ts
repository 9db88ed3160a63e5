// The migration that widens sync_runs.api_total_count must drop and recreate
// reporting.sync_runs, and dropping a view drops its grants: whoever could read it before
// (a bi-access role, a role granted it by hand) still can, comments on it stay, and the
// runs recorded before keep their counts.
import { rmSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../src/migrations.ts";
import { connectAs, createTestDatabase, onAdmin, type TestDatabase } from "./support/database.ts";
import { migrationsBefore, migrationsThrough } from "./support/migrations.ts";

const WIDENING = "20261130145100_bigint_total_count";
const READER = `es_view_reader_${Math.random().toString(16).slice(2, 10)}`;

let db: TestDatabase;
let before: string;
/** The same, and the widening one: later migrations change the view again. */
let through: string;

beforeAll(async () => {
  db = await createTestDatabase("es_widen");
  // The migrations as they were before the widening one.
  before = await migrationsBefore(WIDENING);
  through = await migrationsThrough(WIDENING);
  await onAdmin(`CREATE ROLE ${READER} LOGIN PASSWORD 'reader password'`);
});

afterAll(async () => {
  await db.drop();
  await onAdmin(`DROP ROLE IF EXISTS ${READER}`);
  rmSync(before, { recursive: true, force: true });
  rmSync(through, { recursive: true, force: true });
});

/** The comments on reporting.sync_runs and its columns, the view's first. */
function syncRunsComments(): Promise<Record<string, unknown>[]> {
  return db.query(
    `SELECT coalesce(a.attname::text, '(view)') AS "on", d.description
     FROM pg_description d
     LEFT JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid
     WHERE d.objoid = 'reporting.sync_runs'::regclass ORDER BY d.objsubid`,
  );
}

describe(`migration ${WIDENING}`, () => {
  it("keeps reporting.sync_runs' grants, its comments and the counts already recorded", async () => {
    let commentsBefore: Record<string, unknown>[];
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await migrate(pool, { migrationsDir: before });
      await db.query(
        `INSERT INTO sync_runs (status, finished_at, api_total_count, error)
         VALUES ('failed', now(), 2147483647, 'an old run')`,
      );
      // Granted by hand, not through default privileges, which would grant it again anyway.
      await db.query(`GRANT USAGE ON SCHEMA reporting TO ${READER}`);
      await db.query(`GRANT SELECT ON reporting.sync_runs TO ${READER}`);
      // What BI tools show of a column, as a migration (or a user) wrote it.
      await db.query(
        `COMMENT ON COLUMN reporting.sync_runs.api_total_count IS 'totalCount, it''s said';
         COMMENT ON COLUMN reporting.sync_runs.warning IS 'a warning'`,
      );
      commentsBefore = await syncRunsComments();

      expect((await migrate(pool, { migrationsDir: through })).applied).toEqual([WIDENING]);
    } finally {
      await pool.end();
    }
    const [column] = await db.query(
      `SELECT data_type FROM information_schema.columns
       WHERE table_schema = 'reporting' AND table_name = 'sync_runs' AND column_name = 'api_total_count'`,
    );
    expect(column).toEqual({ data_type: "bigint" });
    // Every comment as it was: the migrations' (README's meanings) and the user's own.
    expect(commentsBefore).toContainEqual({
      on: "api_total_count",
      description: "totalCount, it's said",
    });
    expect(commentsBefore).toContainEqual({ on: "warning", description: "a warning" });
    expect(await syncRunsComments()).toEqual(commentsBefore);
    const reader = await connectAs(db, READER, "reader password");
    try {
      const { rows } = await reader.query("SELECT api_total_count FROM reporting.sync_runs");
      expect(rows).toEqual([{ api_total_count: "2147483647" }]);
    } finally {
      await reader.end();
    }
  });
});
