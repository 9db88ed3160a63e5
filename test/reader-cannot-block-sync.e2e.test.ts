// Nothing the read-only role that `bi-access` makes can do stops or holds up a sync: it
// logs in and tries every way in (the run lock, the advisory keys the worker used to rely
// on, temporary tables, creating anything, row and table locks through the views), keeps
// what it got, and the real CLI syncs meanwhile. The syncing role here is not a superuser:
// it owns the database, as on a managed PostgreSQL, so what bi-access changes for PUBLIC
// (temporary tables) is shown not to take anything the sync needs.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { MIGRATION_LOCK_KEY } from "../src/migrations.ts";
import { runCli, simulatorEnv } from "./support/cli.ts";
import { createTestDatabase, onAdmin, type TestDatabase } from "./support/database.ts";
import { changedSource, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

const suffix = randomBytes(4).toString("hex");
const OWNER = `es_sync_owner_${suffix}`;
const READER = `es_bi_reader_${suffix}`;
const OWNER_PASSWORD = "owner password";
const READER_PASSWORD = "reader password";
/** The advisory key the run lock used to be: any login could take it and stop every sync. */
const OLD_SYNC_LOCK_KEY = 7_268_101_100;

const customers = sampleCustomers(20, 4);

let db: TestDatabase;
let simulator: Simulator;
let dir: string;
let dataFile: string;
let env: Record<string, string>;

function urlAs(role: string, password: string): string {
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  return url.toString();
}

async function errorCode(client: pg.Client, sql: string): Promise<string | undefined> {
  await client.query("SAVEPOINT attempt");
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    await client.query("ROLLBACK TO SAVEPOINT attempt");
  }
}

beforeAll(async () => {
  db = await createTestDatabase("es_reader");
  await onAdmin(
    `CREATE ROLE ${OWNER} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(OWNER_PASSWORD)}`,
  );
  await onAdmin(`ALTER DATABASE ${db.name} OWNER TO ${OWNER}`);
  dir = mkdtempSync(join(tmpdir(), "elements-sync-reader-"));
  dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, customers);
  simulator = await startSimulator({ dataFile });
  env = simulatorEnv(urlAs(OWNER, OWNER_PASSWORD), simulator.url);
  const migrated = await runCli(["migrate"], env);
  expect(migrated.code, migrated.stderr).toBe(0);
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, READER_PASSWORD);
  const access = await runCli(["bi-access", READER, "--password-file", passwordFile], env);
  expect(access.code, access.stderr).toBe(0);
});

afterAll(async () => {
  await simulator.close();
  await db.drop();
  await onAdmin(`DROP ROLE IF EXISTS ${READER}`);
  await onAdmin(`DROP ROLE IF EXISTS ${OWNER}`);
  rmSync(dir, { recursive: true, force: true });
});

describe("the bi-access role", () => {
  it("cannot take the run lock, create anything or lock rows, and a sync runs while it holds all it can", async () => {
    const reader = new pg.Client({ connectionString: urlAs(READER, READER_PASSWORD) });
    await reader.connect();
    try {
      // Advisory keys are anyone's: it takes the old run lock's and Prisma Migrate's.
      await reader.query("SELECT pg_advisory_lock($1), pg_advisory_lock($2)", [
        OLD_SYNC_LOCK_KEY,
        MIGRATION_LOCK_KEY,
      ]);
      await reader.query("SET default_transaction_read_only = off");
      await reader.query("BEGIN");
      const attempts = [
        "LOCK TABLE sync_run_lock IN EXCLUSIVE MODE NOWAIT",
        "LOCK TABLE sync_run_lock IN ACCESS SHARE MODE",
        "CREATE TEMP TABLE mine (id int)",
        "CREATE FUNCTION pg_temp.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE TABLE public.mine (id int)",
        "CREATE TABLE reporting.mine (id int)",
        "CREATE VIEW reporting.mine AS SELECT 1",
        "CREATE SCHEMA mine",
        "SELECT * FROM reporting.customers FOR UPDATE",
        "SELECT * FROM reporting.sync_runs FOR SHARE",
        "LOCK TABLE reporting.customers IN ACCESS EXCLUSIVE MODE",
        "LOCK TABLE reporting.job_status_changes IN SHARE MODE",
      ];
      for (const sql of attempts) {
        expect([sql, await errorCode(reader, sql)]).toEqual([sql, "42501"]);
      }
      // What it may do, it keeps doing through the sync: a transaction reading every view.
      for (const view of [
        "customers",
        "tenants",
        "job_status_changes",
        "job_status_daily",
        "customer_status_at_run",
        "sync_runs",
        "attribute_changes",
        "customers_at(now())",
        "tenants_at(now())",
      ]) {
        await reader.query(`SELECT count(*) FROM reporting.${view}`);
      }
      await reader.query("LOCK TABLE reporting.sync_runs IN ACCESS SHARE MODE");

      const first = await runCli(["sync"], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^run 1 succeeded .*: 20 customers \(complete\)/);
      // A second night with changes to merge: history written while the reader still reads.
      await writeCustomersFile(dataFile, changedSource(customers));
      const second = await runCli(["sync"], env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(
        /^run 2 succeeded .*\n {2}customers: 2 added, 2 removed, 0 restored\n {2}changed: +3 job status,/,
      );
    } finally {
      await reader.end();
    }
    await expectInvariants(db);
  });

  it("is refused, with nothing created, when bi-access may not withhold temporary tables", async () => {
    // A database someone else owns: the role that migrates may create in it, but cannot
    // revoke what PUBLIC holds on it.
    const other = await createTestDatabase("es_reader_other");
    const role = `es_bi_refused_${suffix}`;
    try {
      await onAdmin(`GRANT CREATE ON DATABASE ${other.name} TO ${OWNER}`);
      await other.query(`GRANT CREATE ON SCHEMA public TO ${OWNER}`);
      const url = new URL(other.url);
      url.username = OWNER;
      url.password = OWNER_PASSWORD;
      const otherEnv = { DATABASE_URL: url.toString() };
      expect((await runCli(["migrate"], otherEnv)).code).toBe(0);
      const result = await runCli(["bi-access", role], otherEnv, { stdin: "secret\n" });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `role ${role} could still create objects (TEMPORARY on database ${other.name}), granted to PUBLIC`,
      );
      expect(await other.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).toEqual([]);
    } finally {
      await other.drop();
      await onAdmin(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it("leaves the role that syncs, and the database's owner, their temporary tables", async () => {
    const [rights] = await db.query(
      `SELECT has_database_privilege($1, current_database(), 'TEMPORARY') AS owner,
              has_database_privilege($2, current_database(), 'TEMPORARY') AS reader,
              has_database_privilege('public', current_database(), 'TEMPORARY') AS everyone`,
      [OWNER, READER],
    );
    expect(rights).toEqual({ owner: true, reader: false, everyone: false });
  });
});
