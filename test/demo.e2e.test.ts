// The demo's database choice, without touching the real elements_sync_demo: the same code
// runs against the test server with a database name of the test's own.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { demoDatabase, printFailingAndExpiring } from "../src/cli/demo.ts";
import { runCli } from "./support/cli.ts";
import { createHarness } from "./support/harness.ts";
import {
  insertRun,
  migratedDatabase,
  observeCustomer,
  observeJob,
  observeSubscription,
} from "./support/resource-fixtures.ts";

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

describe("demo, after its sync", () => {
  /** What the demo prints of failing customers and expiring subscriptions, line by line. */
  async function printed(pool: pg.Pool): Promise<string[]> {
    const lines: string[] = [];
    await printFailingAndExpiring(pool, { out: (text) => lines.push(text), err: () => undefined });
    return lines.join("\n").split("\n");
  }

  it("shows failing customers with their failing jobs, and subscriptions expiring in 30 days", async () => {
    const fixture = await migratedDatabase();
    try {
      const { db } = fixture;
      const run = await insertRun(db);
      await observeCustomer(db, run, { id: "c-1", organization: "Contoso", jobStatus: 2 });
      await observeCustomer(db, run, { id: "c-2", organization: "Fabrikam", jobStatus: 5 });
      await observeCustomer(db, run, { id: "c-3", organization: "Northwind", jobStatus: 1 });
      await observeJob(db, run, {
        customerId: "c-1",
        jobId: "j-1",
        status: 3,
        name: "Mailboxes nightly",
        jobModule: 303,
        failedCount: 12,
      });
      await observeJob(db, run, { customerId: "c-1", jobId: "j-2", status: 2, name: "Sites" });
      // Working customers' failing jobs are not why a customer is failing.
      await observeJob(db, run, { customerId: "c-3", jobId: "j-3", status: 3 });
      const inDays = (days: number) => new Date(Date.now() + days * 86_400_000);
      const subscription = (service: string, days: number) => ({
        customerId: "c-3",
        service,
        subscriptionName: "Tier 2",
        expirationDate: inDays(days),
        purchasedUserSeats: 40,
      });
      await observeSubscription(db, run, subscription("Cloud Backup for Microsoft 365", 12));
      await observeSubscription(db, run, subscription("Fly Migration", 45));
      await observeSubscription(db, run, subscription("Expired", -3));

      const lines = await printed(fixture.database.pool);
      const table = (heading: string) => {
        const start = lines.findIndex((line) => line.startsWith(heading));
        const end = lines.findIndex((line, i) => i > start && line === "");
        return lines
          .slice(start + 1, end < 0 ? undefined : end)
          .map((line) => line.trim().split(/\s{2,}/));
      };
      expect(table("Failing customers and why (reporting.failing_customers):")).toEqual([
        ["organization", "customer status", "failing job", "module", "job status", "failed items"],
        [
          expect.stringMatching(/^-+$/),
          expect.any(String),
          expect.any(String),
          expect.any(String),
          expect.any(String),
          expect.any(String),
        ],
        ["Contoso", "Failed", "Mailboxes nightly", "Exchange Online", "Failed", "12"],
        ["Fabrikam", "Finished with Exception", "(no failing job listed)"],
      ]);
      const day = inDays(12).toISOString().slice(0, 10);
      expect(table("Subscriptions expiring in the next 30 days (reporting.services):")).toEqual([
        ["organization", "service", "subscription", "expires", "days left", "seats"],
        [
          expect.stringMatching(/^-+$/),
          expect.any(String),
          expect.any(String),
          expect.any(String),
          expect.any(String),
          expect.any(String),
        ],
        ["Northwind", "Cloud Backup for Microsoft 365", "Tier 2", day, "12", "40"],
      ]);
    } finally {
      await fixture.close();
    }
  });

  it("says (none) when nothing fails or expires, and counts what it leaves out", async () => {
    const fixture = await migratedDatabase();
    try {
      expect(await printed(fixture.database.pool)).toEqual([
        "",
        "Failing customers and why (reporting.failing_customers):",
        "  (none)",
        "",
        "Subscriptions expiring in the next 30 days (reporting.services):",
        "  (none)",
      ]);
      const run = await insertRun(fixture.db);
      for (let i = 0; i < 12; i++) {
        const id = `c-${String(i).padStart(2, "0")}`;
        await observeCustomer(fixture.db, run, {
          id,
          organization: `Customer ${id}`,
          jobStatus: 2,
        });
      }
      const lines = await printed(fixture.database.pool);
      expect(lines.filter((line) => line.includes("(no failing job listed)"))).toHaveLength(10);
      expect(lines).toContain("  … and 2 more");
    } finally {
      await fixture.close();
    }
  });
});
