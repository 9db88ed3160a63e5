// The command line as people use it: a real child process running bin/elements-sync.js.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryAcquireSyncLock } from "../src/sync/lock.ts";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { runCli as cli, simulatorEnv, spawnCli } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { sampleCustomers } from "./support/harness.ts";
import { getToken } from "./support/simulator-http.ts";

let db: TestDatabase;
let simulator: Simulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), "elements-sync-cli-data-"));
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, sampleCustomers(30));
  simulator = await startSimulator({ dataFile, clientSecret: "cli-secret-xyz" });
  env = {
    ...simulatorEnv(db.url, simulator.url),
    ELEMENTS_CLIENT_SECRET: "cli-secret-xyz",
    ELEMENTS_PAGE_SIZE: "7",
    ELEMENTS_MAX_ATTEMPTS: "2",
    LOG_LEVEL: "debug",
  };
});

afterAll(async () => {
  await simulator.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("elements-sync", () => {
  it("prints help for every command and exits 0", async () => {
    const overview = await cli(["--help"]);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(/Commands:[\s\S]*sync[\s\S]*migrate[\s\S]*simulate[\s\S]*demo/);
    for (const command of ["sync", "start", "status", "migrate", "simulate", "demo"]) {
      const help = await cli([command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: elements-sync ${command}`);
    }
  });

  it("exits 2 on an unknown command or option", async () => {
    const unknownCommand = await cli(["frobnicate"]);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain('unknown command "frobnicate"');
    const unknownOption = await cli(["sync", "--bogus"]);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("--bogus");
  });

  it("exits 2 naming the variable when configuration is missing or invalid, and writes nothing", async () => {
    const missing = await cli(["sync"], { ...env, ELEMENTS_CLIENT_ID: "" });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/configuration error: ELEMENTS_CLIENT_ID must be/);
    const invalid = await cli(["sync"], { ...env, ELEMENTS_PAGE_SIZE: "lots" });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("ELEMENTS_PAGE_SIZE must be an integer from 1 to 1000");
    const badCert = await cli(["sync"], {
      ...env,
      ELEMENTS_CLIENT_SECRET: "",
      ELEMENTS_CERTIFICATE_PATH: "/nonexistent/cert.pem",
    });
    expect(badCert.code).toBe(2);
    expect(badCert.stderr).toContain("ELEMENTS_CERTIFICATE_PATH cannot be read");
    const tables = await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    expect(tables).toEqual([]);
  });

  it("migrates, syncs with a one-line summary and exits 0; logs hold no secret", async () => {
    const migrated = await cli(["migrate"], env);
    expect(migrated.code).toBe(0);
    // One line naming every migration, the first one first.
    expect(migrated.stdout).toMatch(/^applied \d+ migration\(s\): \d+_init(, \d+_\w+)*\n$/);

    const sync = await cli(["sync"], env);
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(
      new RegExp(
        [
          String.raw`^run 1 succeeded in [\d.]+ s: 30 customers \(complete\), (\d+) tenants, 0 rejected`,
          "  customers: 30 added, 0 removed, 0 restored",
          "  changed:   0 job status, 0 management mode, 0 owner email, 0 organization, 0 country or region",
          String.raw`  tenants:   \1 added, 0 renamed, 0 removed, 0 restored`,
          // ELEMENTS_RESOURCES' default: subscriptions and backup jobs too, one request a
          // customer for its jobs.
          String.raw`  services:  \d+ products, \d+ requests \(complete\)`,
          String.raw`  jobs:      \d+ jobs, 30 requests \(complete\)\n$`,
        ].join("\n"),
      ),
    );
    expect(
      await db.query(
        "SELECT resource, outcome FROM reporting.sync_run_resources WHERE run_id = 1 ORDER BY 1",
      ),
    ).toEqual([
      { resource: "customers", outcome: "complete" },
      { resource: "jobs", outcome: "complete" },
      { resource: "services", outcome: "complete" },
    ]);
    expect(sync.stderr).toContain('"msg":"sync run succeeded"');
    expect(sync.stderr + sync.stdout).not.toContain("cli-secret-xyz");
    expect(sync.stderr).not.toMatch(/Bearer |access_token/);
    const tokens = simulator.requests.filter(
      (r) => r.path === "/connect/token" && r.status === 200,
    );
    expect(tokens.length).toBeGreaterThan(0);

    const again = await cli(["sync", "--no-migrate"], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^run 2 succeeded .*\n {2}customers: 0 added, 0 removed, 0 restored\n {2}changed: +0 job status, 0 management mode, 0 owner email/,
    );
  });

  it("exits 1 with the reason when the run fails, and records it", async () => {
    simulator.injectFault({ status: 403, times: 1 });
    const failed = await cli(["sync", "--no-migrate"], env);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(
      /^run \d+ failed after [\d.]+ s: .*elements\.customers\.read\.all/,
    );
    const [run] = await db.query("SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1");
    expect(run).toEqual({ status: "failed" });
  });

  it("syncs a single customer with --customer", async () => {
    const [target] = sampleCustomers(30);
    const result = await cli(["sync", "--no-migrate", "--customer", target?.id ?? ""], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/1 customers \(incomplete: single-customer run/);
  });

  it("exits 1 with a clear message when the database cannot be reached, hiding its password", async () => {
    const result = await cli(["sync"], {
      ...env,
      DATABASE_URL: "postgresql://someone:pa55word@127.0.0.1:1/nowhere",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ECONNREFUSED|connect/);
    expect(result.stderr).not.toContain("pa55word");
  });

  it("reads configuration from .env in the working directory; the environment wins", async () => {
    const { ELEMENTS_CLIENT_SECRET: secret, ...rest } = env;
    const dotenv = `ELEMENTS_CLIENT_SECRET=${secret ?? ""}\nELEMENTS_PAGE_SIZE=not-a-number\n`;
    const result = await cli(["sync", "--no-migrate"], rest, { files: { ".env": dotenv } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^run \d+ succeeded/);
  });

  it("serves the simulator until SIGTERM", async () => {
    const simulate = spawnCli(["simulate", "--customers", "3", "--seed", "5"], {});
    await expect
      .poll(() => /listening on (http:\/\/\S+)/.exec(simulate.stdout())?.[1], { timeout: 20_000 })
      .toBeDefined();
    const url = /listening on (http:\/\/\S+)/.exec(simulate.stdout())?.[1] ?? "";
    const token = await getToken({ url });
    const page = (await (
      await fetch(`${url}/partner/external/v3/general/customers/batch?pageIndex=1&pageSize=10`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
        },
        body: "{}",
      })
    ).json()) as { data: unknown[]; metadata: { totalCount: number } };
    expect(page.metadata.totalCount).toBe(3);
    expect(page.data).toHaveLength(3);
    simulate.child.kill("SIGTERM");
    expect((await simulate.exited).code).toBe(0);
  });

  it("runs the demo: two runs and what changed between them", async () => {
    const demoDb = await createTestDatabase("es_demo");
    try {
      const result = await cli(["demo"], { DATABASE_URL: demoDb.url });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`(from DATABASE_URL)`);
      expect(result.stdout).toMatch(/First sync: +run 1 succeeded .*40 customers \(complete\)/);
      expect(result.stdout).toMatch(
        /Second sync: run 2 succeeded .*\n {2}customers: 2 added, 2 removed, 0 restored\n {2}changed: +3 job status, 1 management mode, 1 owner email, 0 organization, 0 country or region\n {2}tenants: +\d+ added, 1 renamed, \d+ removed, 0 restored/,
      );
      // Each change it made, the tenant rename with its organization.
      const [made = "", changes = ""] =
        result.stdout
          .split("Changed in the simulator between the runs:")[1]
          ?.split("recorded (reporting.attribute_changes):") ?? [];
      const rename = /\n {2}(\S.*): tenant (\S+) renamed to \2-renamed\n/.exec(made);
      expect(rename).not.toBeNull();
      expect(made).toContain(": owner email → new-owner@example.com");
      expect(changes.match(/new customer/g)).toHaveLength(2);
      expect(changes.match(/removed \(absent from a complete run\)/g)).toHaveLength(2);
      expect(changes.match(/job status .* → /g)).toHaveLength(3);
      expect(changes.match(/management mode .* → /g)).toHaveLength(1);
      expect(changes.match(/owner email .* → new-owner@example\.com/g)).toHaveLength(1);
      expect(changes).toContain("tenant new-tenant added");
      // The recorded rename is on the line of its organization.
      const [, organization = "?", tenant = "?"] = rename ?? [];
      const renameLine = changes
        .split("\n")
        .find((line) => line.endsWith(`tenant ${tenant} renamed to ${tenant}-renamed`));
      expect(renameLine?.trim().startsWith(`${organization} `)).toBe(true);

      // Why customers are failing: each listed failing customer with a failing backup job
      // (the simulator gives every Failed, Multiple Issues Found or Finished with Exception
      // customer one), its module, status and failed items.
      const [, failingPart = "", expiringPart = ""] = result.stdout.split(
        /\nFailing customers and why \(reporting\.failing_customers\):\n|\nSubscriptions expiring in the next 30 days \(reporting\.services\):\n/,
      );
      const failingLines = failingPart.trimEnd().split("\n");
      expect(failingLines[0]).toMatch(
        /^ {2}organization +customer status +failing job +module +job status +failed items$/,
      );
      const failingRows = failingLines.slice(2).filter((line) => !line.trim().startsWith("… and "));
      expect(failingRows.length).toBeGreaterThan(0);
      expect(failingRows.join("\n")).not.toContain("(no failing job listed)");
      const failingRow =
        /^ {2}\S.*? {2,}(Failed|Multiple Issues Found|Finished with Exception) {2,}\S.*? {2,}\S.*? {2,}(Failed|Finished with exception|Failed to start) {2,}\d+( of \d+)?$/;
      for (const row of failingRows) expect(row).toMatch(failingRow);
      // Subscriptions expiring soon: a table under its heading, or (none) if nothing does.
      expect(expiringPart.split("\n")[0]).toMatch(
        /^ {2}(organization +service +subscription +expires +days left +seats|\(none\))$/,
      );
    } finally {
      await demoDb.drop();
    }
  });

  it("exits 1 while another run holds the database", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const lock = await tryAcquireSyncLock(pool);
    try {
      expect(lock).toBeDefined();
      const result = await cli(["sync", "--no-migrate"], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Another elements-sync run is in progress on this database");
    } finally {
      await lock?.release();
      await pool.end();
    }
  });

  it("demo refuses a DATABASE_URL that already holds synced data", async () => {
    const result = await cli(["demo"], { DATABASE_URL: db.url });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /already holds \d+ elements-sync run\(s\); the demo would mix simulated customers into it/,
    );
  });
});
