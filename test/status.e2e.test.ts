// `elements-sync status`: the last runs and the next fire, as a table and as JSON.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOT_MIGRATED, runCli } from "./support/cli.ts";
import { createTestDatabase } from "./support/database.ts";
import { createLogger } from "../src/logger.ts";
import { runSync } from "../src/sync/sync.ts";
import { createHarness, openHarness, sampleCustomers, type Harness } from "./support/harness.ts";

let h: Harness;
let env: Record<string, string>;

beforeAll(async () => {
  h = await createHarness({ customers: sampleCustomers(12) });
  await h.sync();
  await h.serve(sampleCustomers(12).slice(1));
  await h.sync();
  h.simulator.injectFault({ status: 403, times: 1 });
  await h.sync();
  env = { DATABASE_URL: h.db.url, SYNC_CRON: "0 9 * * *", SYNC_TIMEZONE: "Asia/Kolkata" };
});

afterAll(async () => {
  await h.close();
});

describe("elements-sync status", () => {
  it("prints the last runs newest first as a table, with the next fire", async () => {
    // --wide: every column, each note whole (the default table is in status-fits-120-columns).
    const result = await runCli(["status", "--runs", "2", "--wide"], env);
    expect(result.code).toBe(0);
    const [header, blank, titles, ...rows] = result.stdout.trimEnd().split("\n");
    // 09:00 in Kolkata (UTC+5:30) is 03:30 UTC.
    expect(header).toMatch(
      /^schedule: 0 9 \* \* \* \(Asia\/Kolkata\); next fire \d{4}-\d\d-\d\d 03:30:00 UTC$/,
    );
    expect(blank).toBe("");
    expect(titles?.split(/\s{2,}/)).toEqual([
      "run",
      "started (UTC)",
      "duration",
      "status",
      "trigger",
      "complete",
      "seen",
      "added",
      "removed",
      "restored",
      "status changes",
      "note",
      "resources",
    ]);
    expect(rows).toHaveLength(2);
    // Each run's resources after the note (status-fits-120-columns): the harness syncs
    // customers alone; the failed run made one request, refused, and records it as partial.
    expect(rows[0]).toMatch(
      /^ *3 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +[\d.]+ s +failed +on demand +no +0 +0 +0 +0 +0 +The app registration lacks the permission elements\.customers\.read\.all \(403\)\. Grant it under Elements > API app registration \(.*\)\. {2,}customers partial: 0 records, 1 request \(The app registration lacks the permission elements\.customers\.read\.all \(403\)\..*\)$/,
    );
    expect(rows[1]).toMatch(
      /^ *2 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +[\d.]+ s +succeeded +on demand +yes +11 +0 +1 +0 +0 {2,}customers complete: 11 records, 3 requests$/,
    );
  });

  it("prints JSON with --json", async () => {
    const result = await runCli(["status", "--json"], env);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as {
      schedule: { cron: string; timezone: string; nextFireAt: string };
      runs: Record<string, unknown>[];
    };
    expect(status.schedule).toMatchObject({ cron: "0 9 * * *", timezone: "Asia/Kolkata" });
    expect(status.schedule.nextFireAt).toMatch(/T03:30:00\.000Z$/);
    expect(new Date(status.schedule.nextFireAt).getTime()).toBeGreaterThan(Date.now());
    expect(status.runs.map((run) => [run.id, run.status])).toEqual([
      [3, "failed"],
      [2, "succeeded"],
      [1, "succeeded"],
    ]);
    expect(status.runs[2]).toMatchObject({
      complete: true,
      customersSeen: 12,
      customersAdded: 12,
      scheduledFor: null,
      error: null,
      removalsWithheld: 0,
      warning: null,
      newFields: [],
    });
    expect(status.runs[2]?.durationMs).toBeGreaterThan(0);
  });

  it("shows the fields outside the documented set a run met, in the note and in --json", async () => {
    const customers = sampleCustomers(3).map((customer) => ({ ...customer, riskScore: 7 }));
    const other = await createHarness({ customers });
    try {
      await other.sync();
      const own = { ...env, DATABASE_URL: other.db.url };
      const json = await runCli(["status", "--json"], own);
      const [run] = (JSON.parse(json.stdout) as { runs: Record<string, unknown>[] }).runs;
      expect(run).toMatchObject({ status: "succeeded", newFields: ["riskScore"] });
      const table = await runCli(["status", "--wide"], own);
      expect(table.stdout.trimEnd().split("\n").at(-1)).toMatch(
        / +succeeded +on demand +yes +3 +3 +0 +0 +0 +new fields: riskScore {2,}customers complete: 3 records, 1 request$/,
      );
    } finally {
      await other.close();
    }
  });

  it("says what to do when the database has no elements-sync tables", async () => {
    const empty = await createTestDatabase("es_status");
    try {
      const result = await runCli(["status"], { DATABASE_URL: empty.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`elements-sync status: ${NOT_MIGRATED}\n`);
    } finally {
      await empty.drop();
    }
  });

  it("exits 2 on a bad --runs or SYNC_CRON", async () => {
    const runs = await runCli(["status", "--runs", "0"], env);
    expect(runs.code).toBe(2);
    expect(runs.stderr).toContain("--runs must be an integer from 1 to 1000");
    const cron = await runCli(["status"], { ...env, SYNC_CRON: "every night" });
    expect(cron.code).toBe(2);
    expect(cron.stderr).toContain("SYNC_CRON must be a cron expression");
  });
});

describe("elements-sync status, how runs started", () => {
  it("labels the run `start` makes at once (SYNC_ON_START) on start, not on demand", async () => {
    const own = await openHarness({ customers: sampleCustomers(3) });
    const deps = { db: own.database, client: own.client, log: createLogger("silent") };
    await runSync(deps, { pageSize: 10, onStart: true });
    await own.sync();
    const result = await runCli(["status", "--wide"], { DATABASE_URL: own.db.url });
    expect(result.code).toBe(0);
    const rows = result.stdout.trimEnd().split("\n").slice(3);
    expect(rows[0]).toMatch(/^ *2 .* succeeded +on demand +yes /);
    expect(rows[1]).toMatch(/^ *1 .* succeeded +on start +yes /);
    expect(await own.db.query("SELECT id, on_start FROM sync_runs ORDER BY id")).toEqual([
      { id: 1, on_start: true },
      { id: 2, on_start: false },
    ]);
  });
});
