// Each test file gets a database of its own on the test server and drops it afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { expect, inject } from "vitest";

export interface TestDatabase {
  name: string;
  url: string;
  /** A pg client on the test database, for assertions in SQL. */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  drop(): Promise<void>;
}

/** Runs `sql` on the test server's admin database (roles and databases are server-wide). */
export async function onAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Drops the database once the connections just ended have gone. Not WITH (FORCE): killing
 * a connection that a pool is still closing raises an uncaught error in that pool's client.
 */
async function dropWhenUnused(name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await onAdmin(`DROP DATABASE IF EXISTS "${name}"`);
      return;
    } catch (error) {
      const inUse = (error as { code?: string }).code === "55006";
      if (!inUse || attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export async function createTestDatabase(prefix = "es_test"): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await onAdmin(`CREATE DATABASE "${name}"`);
  const url = new URL(inject("adminDatabaseUrl"));
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // Tests terminate sessions on purpose (a database dropped under a worker): a client of this
  // pool that is idle or closing then gets an 'error' event, which must not crash the run.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return {
    name,
    url: url.toString(),
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await pool.query<T>(sql, params)).rows;
    },
    async drop() {
      await pool.end();
      await dropWhenUnused(name);
    },
  };
}

/** A session on `db` logged in as `role` (trust or password authentication, whichever the server uses). */
export async function connectAs(
  db: { url: string },
  role: string,
  password: string,
): Promise<pg.Client> {
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

/** A connection of its own to `db`, with its server process id (to watch it wait). */
export async function session(db: TestDatabase): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return { client, pid: rows[0]?.pid ?? -1 };
}

/** Resolves once the session `pid` waits on a lock. */
export async function blocked(db: TestDatabase, pid: number): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await db.query(
            "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
            [pid],
          )
        ).length,
      { timeout: 20_000, interval: 20 },
    )
    .toBe(1);
}
