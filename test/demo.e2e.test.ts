// The demo's database choice, without touching the real elements_sync_demo: the same code
// runs against the test server with a database name of the test's own.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { demoDatabase } from "../src/cli/demo.ts";
import { runCli } from "./support/cli.ts";
import { createHarness } from "./support/harness.ts";

const name = `es_demo_${randomBytes(6).toString("hex")}`;
const admin = inject("adminDatabaseUrl");

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await adminQuery(`DROP DATABASE IF EXISTS "${name}"`);
});

describe("demo database", () => {
  it("creates its database when DATABASE_URL is not set, resets it next time, and says which", async () => {
    const lines: string[] = [];
    const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
    const url = await demoDatabase(io, undefined, admin, name);
    expect(new URL(url).pathname).toBe(`/${name}`);
    expect(lines).toEqual([`Database: ${url} (created; set DATABASE_URL to use another)`]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("CREATE TABLE leftover (x int)");
    await client.end();
    await demoDatabase(io, undefined, admin, name);
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const { rows } = await check.query("SELECT to_regclass('public.leftover') AS t");
    await check.end();
    expect(rows).toEqual([{ t: null }]);
  });

  it("says how to get a database when none is reachable", async () => {
    const io = { out: () => undefined, err: () => undefined };
    await expect(
      demoDatabase(io, undefined, "postgresql://postgres@127.0.0.1:1/postgres", name),
    ).rejects.toThrow(
      /DATABASE_URL is not set and no PostgreSQL accepts connections at .*Start one \(docker compose up -d postgres\) or set DATABASE_URL/,
    );
  });

  it("reads DATABASE_URL_FILE like every other command", async () => {
    const h = await createHarness();
    try {
      await h.sync();
      // A database that already holds runs: the demo refuses it, naming what it read.
      const result = await runCli(
        ["demo"],
        { DATABASE_URL_FILE: "database_url" },
        { files: { database_url: `${h.db.url}\n` } },
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        "DATABASE_URL points at a database that already holds 1 elements-sync run(s)",
      );
    } finally {
      await h.close();
    }
  });
});
