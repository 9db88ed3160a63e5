// A database that already holds tables elements-sync did not create: `migrate` and `sync`
// touch nothing and say which tables are in the way and what to do, without the
// `prisma migrate resolve` hint meant for a deleted migration history, which would do harm.
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

/** Every table, view and schema the database has besides PostgreSQL's own. */
async function objects(database: TestDatabase): Promise<string[]> {
  const rows = await database.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     UNION ALL
     SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
     ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

const ENV_WITHOUT_API = {
  ELEMENTS_API_URL: "http://127.0.0.1:9",
  ELEMENTS_IDENTITY_URL: "http://127.0.0.1:9",
  ELEMENTS_CLIENT_ID: "demo-client",
  ELEMENTS_CLIENT_SECRET: "demo-secret",
};

describe("a database holding tables elements-sync did not create", () => {
  it("is refused by migrate and sync, naming those tables, with nothing touched", async () => {
    const database = (db = await createTestDatabase("es_foreign"));
    await database.query(`
      CREATE TABLE customers (id serial PRIMARY KEY, name text);
      INSERT INTO customers (name) VALUES ('a customer of the user''s own');
      CREATE TABLE orders (id serial PRIMARY KEY);
      CREATE VIEW big_orders AS SELECT * FROM orders;`);
    const before = await objects(database);
    for (const command of ["migrate", "sync"]) {
      const result = await runCli([command], { DATABASE_URL: database.url, ...ENV_WITHOUT_API });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `elements-sync ${command}: Nothing was migrated. The database already holds tables that ` +
          "elements-sync did not create: public.big_orders (view), public.customers, public.orders. " +
          "elements-sync needs a database of its own: point DATABASE_URL at an empty database, " +
          "or move these tables to another schema.\n",
      );
      expect(result.stderr).not.toContain("prisma migrate resolve");
      expect(await objects(database)).toEqual(before);
    }
    expect(await database.query("SELECT name FROM customers")).toEqual([
      { name: "a customer of the user's own" },
    ]);
  });

  it("is refused too when all it holds is an empty schema named reporting", async () => {
    const database = (db = await createTestDatabase("es_foreign"));
    await database.query("CREATE SCHEMA reporting");
    const result = await runCli(["migrate"], { DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "The database already holds tables that elements-sync did not create: reporting (schema).",
    );
    expect(await objects(database)).toEqual(["public", "reporting"]);
  });

  it("is migrated when what it holds is an extension's", async () => {
    const database = (db = await createTestDatabase("es_foreign"));
    // An extension whose install creates a table in the schema: its own, not the user's.
    await database.query(`
      CREATE TABLE ext_marker (id int);
      ALTER EXTENSION plpgsql ADD TABLE ext_marker;`);
    const result = await runCli(["migrate"], { DATABASE_URL: database.url });
    expect(result.code, result.stderr).toBe(0);
    await database.query("ALTER EXTENSION plpgsql DROP TABLE ext_marker");
  });
});
