// `elements-sync bi-access`: what the role it makes can and cannot do, tried by logging in
// as that role. Roles belong to the whole server, so each test run uses fresh names and
// drops them at the end.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrate } from "../src/migrations.ts";
import { scramVerifier } from "../src/reporting/access.ts";
import { runCli } from "./support/cli.ts";
import { connectAs, createTestDatabase, type TestDatabase } from "./support/database.ts";
import { SUBSCRIPTIONS_AND_JOBS_TABLES } from "./support/migrations.ts";

const suffix = randomBytes(4).toString("hex");
const ROLE = `bi_reader_${suffix}`;
const SCRATCH_ROLE = `bi_scratch_${suffix}`;
const TAKEOVER_ROLE = `bi_takeover_${suffix}`;
const PASSWORD = "correct horse battery staple";

const VIEWS = [
  "attribute_changes",
  "backup_job_status_changes",
  "backup_jobs",
  "customer_status_at_run",
  "customers",
  "failing_customers",
  "job_status_changes",
  "job_status_daily",
  "service_changes",
  "services",
  "sync_run_resources",
  "sync_runs",
  "tenants",
];
const BASE_TABLES = [
  "customers",
  "tenants",
  "customer_status_history",
  "customer_history",
  "tenant_history",
  "sync_runs",
  "job_status_codes",
  "management_mode_codes",
  "staging_customers",
  ...SUBSCRIPTIONS_AND_JOBS_TABLES,
  "_prisma_migrations",
  "reporting_internal.job_status_deltas",
];

let db: TestDatabase;
let dir: string;
let passwordFile: string;

async function onAdmin<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function errorCode(client: pg.Client, sql: string): Promise<string | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

beforeAll(async () => {
  db = await createTestDatabase("es_bi");
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await migrate(pool);
  await pool.end();
  dir = mkdtempSync(join(tmpdir(), "elements-sync-bi-"));
  passwordFile = join(dir, "password");
  writeFileSync(passwordFile, `${PASSWORD}\n`);
});

afterAll(async () => {
  await db.drop();
  await onAdmin(`DROP ROLE IF EXISTS ${ROLE}`);
  await onAdmin(`DROP ROLE IF EXISTS ${SCRATCH_ROLE}`);
  await onAdmin(`DROP ROLE IF EXISTS ${TAKEOVER_ROLE}`);
  rmSync(dir, { recursive: true, force: true });
});

describe("elements-sync bi-access", () => {
  it("creates a login role with the password from --password-file", async () => {
    const result = await runCli(["bi-access", ROLE, "--password-file", passwordFile], {
      DATABASE_URL: db.url,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`created role ${ROLE}`);
    expect(result.stdout).toContain(VIEWS.join(", "));
    // What else it may do: the point-in-time functions.
    expect(result.stdout).toContain(
      "and call its functions reporting.customers_at, reporting.tenants_at, nothing else",
    );
    const [stored] = await onAdmin<{ rolpassword: string; rolcanlogin: boolean }>(
      "SELECT rolpassword, rolcanlogin FROM pg_authid WHERE rolname = $1",
      [ROLE],
    );
    expect(stored?.rolcanlogin).toBe(true);
    // The stored verifier is the one for this password, with its own salt.
    const salt = /^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(stored?.rolpassword ?? "")?.[1];
    expect(salt).toBeDefined();
    expect(stored?.rolpassword).toBe(scramVerifier(PASSWORD, Buffer.from(salt ?? "", "base64")));
  });

  it("computes the same SCRAM verifier as PostgreSQL itself", async () => {
    await onAdmin(`CREATE ROLE ${SCRATCH_ROLE}`);
    await onAdmin(
      `SET password_encryption = 'scram-sha-256'; ALTER ROLE ${SCRATCH_ROLE} PASSWORD 'pässwörd ok'`,
    );
    const [row] = await onAdmin<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [SCRATCH_ROLE],
    );
    const salt = /^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(row?.rolpassword ?? "")?.[1] ?? "";
    expect(row?.rolpassword).toBe(scramVerifier("pässwörd ok", Buffer.from(salt, "base64")));
  });

  it("lets the role read every reporting view, read-only by default", async () => {
    const client = await connectAs(db, ROLE, PASSWORD);
    try {
      for (const view of VIEWS) {
        const { rows } = await client.query(`SELECT count(*) FROM reporting.${view}`);
        expect(rows).toHaveLength(1);
      }
      const { rows } = await client.query<{ transaction_read_only: string }>(
        "SHOW transaction_read_only",
      );
      expect(rows).toEqual([{ transaction_read_only: "on" }]);
    } finally {
      await client.end();
    }
  });

  it("denies the role every base table, every write and every CREATE", async () => {
    const client = await connectAs(db, ROLE, PASSWORD);
    try {
      for (const table of BASE_TABLES) {
        expect([table, await errorCode(client, `SELECT * FROM ${table} LIMIT 1`)]).toEqual([
          table,
          "42501",
        ]);
      }
      // Read-only transactions are only a default: privileges deny writes even without them.
      await client.query("SET default_transaction_read_only = off");
      const writes = [
        // reporting.sync_runs reads one table, so PostgreSQL could write through it: privileges stop it.
        "INSERT INTO reporting.sync_runs (run_id) VALUES (999)",
        "UPDATE reporting.sync_runs SET customer_filter = 'x'",
        "DELETE FROM reporting.sync_runs",
        "UPDATE customers SET organization = 'x'",
        "CREATE TABLE reporting.mine (id int)",
        "CREATE TABLE public.mine (id int)",
        "CREATE VIEW reporting.mine AS SELECT 1",
        "CREATE SCHEMA mine",
      ];
      for (const sql of writes) expect([sql, await errorCode(client, sql)]).toEqual([sql, "42501"]);
    } finally {
      await client.end();
    }
  });

  it("lets the role call the point-in-time functions, which no other role may", async () => {
    await db.query(
      `INSERT INTO sync_runs (id, status, finished_at, complete) VALUES (1, 'succeeded', now(), true);
       INSERT INTO customers (id, organization, job_status, management_mode, first_seen_at, last_seen_at)
       VALUES ('c1', 'Org', 1, 0, now() - interval '1 day', now() - interval '1 day');
       INSERT INTO tenants (customer_id, id, name, first_seen_at, last_seen_at)
       VALUES ('c1', 't1', 'tenant', now() - interval '1 day', now() - interval '1 day');
       INSERT INTO customer_history (customer_id, organization, job_status, management_mode, removed,
                                     valid_from, opened_by_run_id)
       VALUES ('c1', 'Org', 1, 0, false, now() - interval '1 day', 1);
       INSERT INTO tenant_history (customer_id, tenant_id, name, removed, valid_from, opened_by_run_id)
       VALUES ('c1', 't1', 'tenant', false, now() - interval '1 day', 1)`,
    );
    const client = await connectAs(db, ROLE, PASSWORD);
    try {
      const customers = await client.query(
        "SELECT customer_id, organization, job_status_label, tenant_count FROM reporting.customers_at(now())",
      );
      expect(customers.rows).toEqual([
        { customer_id: "c1", organization: "Org", job_status_label: "Working", tenant_count: 1 },
      ]);
      const tenants = await client.query(
        "SELECT tenant_id, tenant_name FROM reporting.tenants_at(now())",
      );
      expect(tenants.rows).toEqual([{ tenant_id: "t1", tenant_name: "tenant" }]);
      // What the functions read stays closed to the role.
      for (const table of ["customer_history", "tenant_history"]) {
        expect(await errorCode(client, `SELECT * FROM ${table}`)).toBe("42501");
      }
    } finally {
      await client.end();
    }
    // A role that may use the schema but was not granted them (EXECUTE is not PUBLIC's).
    await onAdmin(`CREATE ROLE ${SCRATCH_ROLE}_fn LOGIN PASSWORD 'x'`);
    try {
      await db.query(`GRANT USAGE ON SCHEMA reporting TO ${SCRATCH_ROLE}_fn`);
      const other = await connectAs(db, `${SCRATCH_ROLE}_fn`, "x");
      try {
        for (const fn of ["customers_at", "tenants_at"]) {
          expect([fn, await errorCode(other, `SELECT * FROM reporting.${fn}(now())`)]).toEqual([
            fn,
            "42501",
          ]);
        }
      } finally {
        await other.end();
      }
    } finally {
      await db.query(`REVOKE USAGE ON SCHEMA reporting FROM ${SCRATCH_ROLE}_fn`);
      await onAdmin(`DROP ROLE ${SCRATCH_ROLE}_fn`);
      await db.query(
        `DELETE FROM tenant_history; DELETE FROM customer_history; DELETE FROM tenants;
         DELETE FROM customers; DELETE FROM sync_runs`,
      );
    }
  });

  it("lets the role read a view that a later migration adds", async () => {
    // What a later migration does: the owner of the reporting schema creates a view.
    await db.query("CREATE VIEW reporting.added_later AS SELECT count(*) AS n FROM customers");
    const client = await connectAs(db, ROLE, PASSWORD);
    try {
      expect((await client.query("SELECT n FROM reporting.added_later")).rows).toEqual([
        { n: "0" },
      ]);
    } finally {
      await client.end();
      await db.query("DROP VIEW reporting.added_later");
    }
  });

  it("lets the role call a function that a later migration adds", async () => {
    // As the attribute_history migration does: EXECUTE revoked from PUBLIC.
    await db.query(
      `CREATE FUNCTION reporting.added_later_fn() RETURNS int LANGUAGE sql RETURN 7;
       REVOKE ALL ON FUNCTION reporting.added_later_fn() FROM PUBLIC`,
    );
    const client = await connectAs(db, ROLE, PASSWORD);
    try {
      expect((await client.query("SELECT reporting.added_later_fn() AS n")).rows).toEqual([
        { n: 7 },
      ]);
    } finally {
      await client.end();
      await db.query("DROP FUNCTION reporting.added_later_fn()");
    }
  });

  it("updates the role with a new password from standard input", async () => {
    const before = await onAdmin<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [ROLE],
    );
    const result = await runCli(
      ["bi-access", ROLE],
      { DATABASE_URL: db.url },
      { stdin: "new secret\n" },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`updated role ${ROLE}`);
    const [after] = await onAdmin<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [ROLE],
    );
    expect(after?.rolpassword).not.toBe(before[0]?.rolpassword);
    const salt = /^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(after?.rolpassword ?? "")?.[1] ?? "";
    expect(after?.rolpassword).toBe(scramVerifier("new secret", Buffer.from(salt, "base64")));
    expect(result.stdout + result.stderr).not.toContain("new secret");
  });

  it.each([
    [["bi-access", "Robert'); DROP TABLE customers; --"], "role name"],
    [["bi-access", "pg_monitor"], "role name"],
    [
      ["bi-access", "reader", "--password", "secret"],
      'unknown option "--password". Did you mean "--password-file"?',
    ],
    [["bi-access"], "name the role"],
    [["bi-access", "reader"], "the password is empty (standard input)"],
    [["bi-access", "reader", "--password-file", "/nonexistent/file"], "cannot be read"],
  ])("refuses %j with exit status 2, changing nothing", async (args, message) => {
    const result = await runCli(args, { DATABASE_URL: db.url });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    const roles = await onAdmin("SELECT 1 FROM pg_roles WHERE rolname = 'reader'");
    expect(roles).toEqual([]);
  });

  it("refuses to turn a privileged role into a reader", async () => {
    const admin = decodeURIComponent(new URL(db.url).username);
    const result = await runCli(["bi-access", admin], { DATABASE_URL: db.url }, { stdin: "x" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `role ${admin} already exists and is not a reporting-only role (it is the user running this command; it is a superuser`,
    );
    const [role] = await onAdmin<{ rolsuper: boolean; rolconfig: string[] | null }>(
      "SELECT rolsuper, rolconfig FROM pg_roles WHERE rolname = $1",
      [admin],
    );
    expect(role).toEqual({ rolsuper: true, rolconfig: null });
  });

  it("limits the role's sessions: statement timeout, idle-in-transaction timeout, connection limit", async () => {
    const [defaults] = await onAdmin<{ rolconfig: string[]; rolconnlimit: number }>(
      "SELECT rolconfig, rolconnlimit FROM pg_roles WHERE rolname = $1",
      [ROLE],
    );
    expect(defaults).toEqual({
      rolconfig: [
        "default_transaction_read_only=on",
        "statement_timeout=300000",
        "idle_in_transaction_session_timeout=60000",
      ],
      rolconnlimit: 10,
    });
    const result = await runCli(
      [
        "bi-access",
        ROLE,
        "--password-file",
        passwordFile,
        "--statement-timeout",
        "1000",
        "--idle-in-transaction-timeout",
        "1000",
        "--connection-limit",
        "1",
      ],
      { DATABASE_URL: db.url },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "statements end after 1000 ms, an idle open transaction after 1000 ms, at most 1 connections",
    );
    const reader = await connectAs(db, ROLE, PASSWORD);
    try {
      // A statement running past the timeout is cancelled (57014).
      expect(await errorCode(reader, "SELECT pg_sleep(5)")).toBe("57014");
      // One connection at a time: a second is refused (53300).
      const second = await connectAs(db, ROLE, PASSWORD).then(
        async (client) => {
          await client.end();
          return undefined;
        },
        (error: unknown) => (error as { code?: string }).code,
      );
      expect(second).toBe("53300");
      // A transaction left open is ended by the server, freeing what it held.
      const ended = new Promise<void>((resolve) =>
        reader.once("error", () => {
          resolve();
        }),
      );
      await reader.query("BEGIN");
      await reader.query("SELECT count(*) FROM reporting.customers");
      await ended;
    } finally {
      await reader.end().catch(() => undefined);
    }
  });

  it("refuses to take over a role with privileges outside the reporting schema unless --replace", async () => {
    await onAdmin(`CREATE ROLE ${TAKEOVER_ROLE} LOGIN`);
    await onAdmin(`GRANT CONNECT ON DATABASE ${db.name} TO ${TAKEOVER_ROLE}`);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`GRANT SELECT ON public.customers TO ${TAKEOVER_ROLE}`);
      await client.query(`GRANT USAGE ON SCHEMA reporting_internal TO ${TAKEOVER_ROLE}`);
    } finally {
      await client.end();
    }
    const canRead = async () => {
      const [row] = await db.query<{ can: boolean }>(
        "SELECT has_table_privilege($1, 'public.customers', 'SELECT') AS can",
        [TAKEOVER_ROLE],
      );
      return row?.can;
    };

    const refused = await runCli(["bi-access", TAKEOVER_ROLE, "--password-file", passwordFile], {
      DATABASE_URL: db.url,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `role ${TAKEOVER_ROLE} already exists and holds privileges outside the reporting schema (schema reporting_internal, table customers). Choose another name, or give --replace to revoke them and make it a reporting-only role.`,
    );
    expect(await canRead()).toBe(true);

    const replaced = await runCli(
      ["bi-access", TAKEOVER_ROLE, "--password-file", passwordFile, "--replace"],
      { DATABASE_URL: db.url },
    );
    expect(replaced.stderr).toBe("");
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain(`updated role ${TAKEOVER_ROLE}`);
    expect(await canRead()).toBe(false);
    const reader = await connectAs(db, TAKEOVER_ROLE, PASSWORD);
    try {
      expect(await errorCode(reader, "SELECT count(*) FROM reporting.customers")).toBeUndefined();
      expect(
        await errorCode(reader, "SELECT count(*) FROM reporting_internal.job_status_deltas"),
      ).toBe("42501");
    } finally {
      await reader.end();
    }
  });
});
