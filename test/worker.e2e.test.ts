// `elements-sync start` as operators run it: real worker processes on a seconds-field
// schedule against one database and the simulator over HTTP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { runCli, simulatorEnv, spawnCli, type CliProcess } from "./support/cli.ts";
import { snapshotData } from "./support/data.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

let dir: string;
let dataFile: string;
/** Answers at once. */
let fast: Simulator;
/** 700 ms per customers page: with 5 customers a page, a run of 40 takes about 6 s. */
let slow: Simulator;
const customers = sampleCustomers(40);

const running: CliProcess[] = [];
const databases: TestDatabase[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "elements-sync-worker-"));
  dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, customers);
  fast = await startSimulator({ dataFile });
  slow = await startSimulator({ dataFile, latencyMs: 700 });
});

afterEach(async () => {
  for (const process of running.splice(0)) {
    process.child.kill("SIGKILL");
    await process.exited;
  }
  for (const db of databases.splice(0)) await db.drop();
  await writeCustomersFile(dataFile, customers);
});

afterAll(async () => {
  await fast.close();
  await slow.close();
  rmSync(dir, { recursive: true, force: true });
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase("es_worker");
  databases.push(db);
  return db;
}

function environment(db: TestDatabase, simulator: Simulator, extra: Record<string, string> = {}) {
  return {
    ...simulatorEnv(db.url, simulator.url),
    ELEMENTS_PAGE_SIZE: "5",
    ELEMENTS_CONCURRENCY: "1",
    ELEMENTS_MAX_ATTEMPTS: "2",
    HTTP_PORT: "0",
    LOG_LEVEL: "debug",
    // The schedule is what these tests are about: customers alone keep each run short.
    ELEMENTS_RESOURCES: "customers",
    ...extra,
  };
}

function start(env: Record<string, string>): CliProcess {
  const process = spawnCli(["start"], env);
  running.push(process);
  return process;
}

async function stop(process: CliProcess): Promise<{ code: number | null; seconds: number }> {
  const sent = performance.now();
  process.child.kill("SIGTERM");
  const exit = await process.exited;
  running.splice(running.indexOf(process), 1);
  return { code: exit.code, seconds: (exit.at - sent) / 1000 };
}

function logged(process: CliProcess, msg: string): Record<string, unknown>[] {
  return process.logs().filter((line) => line.msg === msg);
}

interface RunRow {
  id: number;
  status: string;
  error: string | null;
  scheduled_for: Date | null;
  started_at: Date;
  finished_at: Date | null;
}

const runs = (db: TestDatabase) =>
  db.query<RunRow>(
    "SELECT id, status, error, scheduled_for, started_at, finished_at FROM sync_runs ORDER BY id",
  );

const count = async (db: TestDatabase, sql: string) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) rows`))[0]?.n ?? 0;

/** Waits for a condition that takes several seconds of real schedule to come true. */
const eventually = { timeout: 40_000, interval: 250 };

describe("elements-sync start", () => {
  it("runs on a schedule with a seconds field and records each run with its fire time", async () => {
    const db = await database();
    const worker = start(environment(db, fast, { SYNC_CRON: "*/2 * * * * *" }));
    await expect
      .poll(() => count(db, "SELECT 1 FROM sync_runs WHERE status = 'succeeded'"), eventually)
      .toBeGreaterThanOrEqual(2);
    expect(await stop(worker)).toMatchObject({ code: 0 });

    const rows = (await runs(db)).filter((row) => row.status === "succeeded");
    for (const row of rows) {
      expect(row.scheduled_for).not.toBeNull();
      expect((row.scheduled_for?.getTime() ?? 1) % 2000).toBe(0);
      expect(row.started_at.getTime()).toBeGreaterThanOrEqual(row.scheduled_for?.getTime() ?? 0);
    }
    expect(new Set(rows.map((row) => row.scheduled_for?.getTime())).size).toBe(rows.length);
    const fires = await db.query<{ fire_at: Date; finished_at: Date | null }>(
      "SELECT fire_at, finished_at FROM sync_fires ORDER BY fire_at",
    );
    for (const row of rows) {
      const fire = fires.find((f) => f.fire_at.getTime() === row.scheduled_for?.getTime());
      expect(fire?.finished_at).toBeInstanceOf(Date);
    }
    expect(logged(worker, "worker started")[0]).toMatchObject({
      cron: "*/2 * * * * *",
      timezone: "UTC",
    });
    await expectInvariants(db);
  });

  it("skips a fire while its own slow run is still going (noOverlap)", async () => {
    const db = await database();
    const worker = start(environment(db, slow, { SYNC_CRON: "* * * * * *" }));
    await expect
      .poll(() => count(db, "SELECT 1 FROM sync_runs WHERE status = 'succeeded'"), eventually)
      .toBeGreaterThanOrEqual(2);
    expect(await stop(worker)).toMatchObject({ code: 0 });

    const overlaps = logged(
      worker,
      "skipped a fire: this process is still running the previous one",
    );
    expect(overlaps.length).toBeGreaterThan(3);
    // node-cron held the fires back; the run lock never had to refuse one.
    expect(logged(worker, "skipped a run: another run holds the database")).toEqual([]);
    const rows = await runs(db);
    for (const [previous, next] of rows.slice(0, -1).map((row, i) => [row, rows[i + 1]] as const)) {
      expect(previous.status).toBe("succeeded");
      expect(next?.started_at.getTime()).toBeGreaterThan(previous.finished_at?.getTime() ?? 0);
    }
  });

  it("makes exactly one run per fire with three replicas on one database", async () => {
    const db = await database();
    const env = environment(db, fast, { SYNC_CRON: "*/2 * * * * *" });
    const replicas = [start(env), start(env), start(env)];
    await expect
      .poll(() => replicas.map((r) => logged(r, "worker started").length), eventually)
      .toEqual([1, 1, 1]);
    const allStarted = Math.max(
      ...replicas.map((r) => Number(logged(r, "worker started")[0]?.time)),
    );
    await expect
      .poll(
        () =>
          count(
            db,
            `SELECT 1 FROM sync_runs WHERE scheduled_for > to_timestamp(${allStarted / 1000})`,
          ),
        eventually,
      )
      .toBeGreaterThanOrEqual(4);
    const stopping = Date.now();
    for (const exit of await Promise.all(replicas.map(stop)))
      expect(exit).toMatchObject({ code: 0 });

    const perFire = await db.query<{ fire_at: Date; claimed_by: string; runs: number }>(
      `SELECT f.fire_at, f.claimed_by, count(r.id)::int AS runs
       FROM sync_fires f LEFT JOIN sync_runs r ON r.scheduled_for = f.fire_at
       GROUP BY f.fire_at, f.claimed_by ORDER BY f.fire_at`,
    );
    expect(await count(db, "SELECT 1 FROM sync_runs WHERE scheduled_for IS NULL")).toBe(0);
    expect(perFire.every((fire) => fire.runs <= 1)).toBe(true);
    // A claimed fire without a run was refused by the run lock (its predecessor still
    // merging on a busy machine) and said so; the last fire may have met the shutdown.
    const lockRefusals = replicas.flatMap((r) =>
      logged(r, "skipped a run: another run holds the database").map((l) => l.scheduledFor),
    );
    for (const fire of perFire.slice(0, -1).filter((f) => f.runs === 0)) {
      expect(lockRefusals).toContain(fire.fire_at.toISOString());
    }
    // Every replica took part in the fires after all three were up: one claimed, the
    // others were told another replica runs it, or said why they sat it out (still running
    // the run of an earlier fire, or too busy to notice the fire: a loaded machine).
    const pids = replicas.map((r) => r.pid);
    const contested = perFire.filter(
      (fire) =>
        fire.fire_at.getTime() > allStarted + 1000 && fire.fire_at.getTime() < stopping - 1000,
    );
    expect(contested.length).toBeGreaterThanOrEqual(2);
    const toldOthersRunIt = new Set<number>();
    for (const fire of contested) {
      const said = (r: CliProcess, message: string) =>
        logged(r, message).some((l) => l.fireAt === fire.fire_at.toISOString());
      const losers = replicas.filter((r) => said(r, "skipped a fire: another replica runs it"));
      const sitters = replicas.filter(
        (r) =>
          said(r, "skipped a fire: this process is still running the previous one") ||
          said(r, "missed a fire: the process was too busy to notice it in time"),
      );
      const winner = pids.find((pid) => fire.claimed_by.endsWith(`:${pid}`));
      expect(winner).toBeDefined();
      expect([...losers, ...sitters].map((r) => r.pid).sort()).toEqual(
        pids.filter((p) => p !== winner).sort(),
      );
      for (const loser of losers) toldOthersRunIt.add(loser.pid);
    }
    // The replicas were elected against one another, not each on its own.
    expect(toldOthersRunIt.size).toBeGreaterThanOrEqual(1);
    await expectInvariants(db);
  });

  it("on SIGTERM mid-run: exits 0 in time, records the run failed 'interrupted', changes nothing", async () => {
    const db = await database();
    const first = await runCli(["sync"], environment(db, fast));
    expect(first.code).toBe(0);
    const before = await snapshotData(db);
    // What a finished run would change: two customers gone, one with a new status.
    const changed = structuredClone(customers.slice(2));
    const target = changed[0];
    if (target) target.jobStatus = target.jobStatus === 2 ? 3 : 2;
    await writeCustomersFile(dataFile, changed);

    // Page 4 is answered only once the worker has been told to stop: however slowly a busy
    // machine runs the test, the run is still fetching when the signal comes.
    let answerPage4!: () => void;
    const page4Answered = new Promise<void>((resolve) => (answerPage4 = resolve));
    slow.onCustomersRequest(async (request) => {
      if (request.pageIndex === 4) await page4Answered;
      return undefined;
    });
    const worker = start(environment(db, slow, { SYNC_CRON: "0 0 1 1 *", SYNC_ON_START: "true" }));
    let stopped: { code: number | null; seconds: number };
    let run: { id: number } | undefined;
    try {
      const requestsBefore = slow.requests.length;
      await expect
        .poll(() => slow.requests.length - requestsBefore, eventually)
        .toBeGreaterThanOrEqual(3);
      [run] = await db.query<{ id: number }>("SELECT id FROM sync_runs WHERE status = 'running'");
      expect(run).toBeDefined();

      // A manual sync meanwhile is refused, naming the run it would collide with.
      const manual = await runCli(["sync", "--no-migrate"], environment(db, fast));
      expect(manual.code).toBe(1);
      expect(manual.stderr).toContain(
        `Another elements-sync run is in progress on this database (run ${run?.id}, started at`,
      );

      stopped = await stop(worker);
    } finally {
      answerPage4();
      slow.onCustomersRequest(undefined);
    }
    const { code, seconds } = stopped;
    expect(code).toBe(0);
    expect(seconds).toBeLessThan(10);
    const [row] = await db.query(
      "SELECT status, error, finished_at, on_start FROM sync_runs WHERE id = $1",
      [run?.id],
    );
    // The run at start served no scheduled time, and says it was the run at start.
    expect(row).toMatchObject({ status: "failed", error: "interrupted", on_start: true });
    expect((await runs(db)).at(-1)?.scheduled_for).toBeNull();
    expect(await snapshotData(db)).toEqual(before);
    expect(await count(db, "SELECT 1 FROM staging_customers")).toBe(0);
    expect(logged(worker, "sync run interrupted: nothing merged")).toHaveLength(1);
    await expectInvariants(db);
  });

  it("marks a killed replica's run abandoned at the next fire, which it does not block", async () => {
    const db = await database();
    const env = environment(db, slow, { SYNC_CRON: "*/3 * * * * *" });
    const replicas = [start(env), start(env)];
    await expect
      .poll(() => count(db, "SELECT 1 FROM sync_runs WHERE status = 'running'"), eventually)
      .toBe(1);
    const [doomed] = await db.query<{ id: number; claimed_by: string }>(
      `SELECT r.id, f.claimed_by FROM sync_runs r JOIN sync_fires f ON f.fire_at = r.scheduled_for
       WHERE r.status = 'running'`,
    );
    const victim = replicas.find((r) => doomed?.claimed_by.endsWith(`:${r.pid}`));
    const survivor = replicas.find((r) => r !== victim);
    if (!victim || !survivor || !doomed) throw new Error("no replica claimed the running run");
    // Let it stage a page or two, then kill it without a chance to clean up.
    await expect
      .poll(() => count(db, "SELECT 1 FROM staging_customers"), eventually)
      .toBeGreaterThan(0);
    victim.child.kill("SIGKILL");
    await victim.exited;
    running.splice(running.indexOf(victim), 1);

    await expect
      .poll(
        async () =>
          (await db.query("SELECT status, error FROM sync_runs WHERE id = $1", [doomed.id]))[0],
        eventually,
      )
      .toEqual({
        status: "abandoned",
        error:
          "its process stopped, or lost its connection to the database, before recording how the run ended",
      });
    // The run that marked it abandoned records its own row just after: wait for that row.
    const nextClaimant = async () => {
      const [next] = await db.query<{ claimed_by: string }>(
        `SELECT f.claimed_by FROM sync_runs r JOIN sync_fires f ON f.fire_at = r.scheduled_for
         WHERE r.id > $1 ORDER BY r.id LIMIT 1`,
        [doomed.id],
      );
      return next?.claimed_by;
    };
    await expect.poll(nextClaimant, eventually).toBeDefined();
    expect(await nextClaimant()).toMatch(new RegExp(`:${survivor.pid}$`));
    expect(await count(db, `SELECT 1 FROM staging_customers WHERE run_id = ${doomed.id}`)).toBe(0);
    expect(await stop(survivor)).toMatchObject({ code: 0 });
  });

  it("keeps running through a failed run and a database that goes away and comes back", async () => {
    const db = await database();
    const worker = start(environment(db, fast, { SYNC_CRON: "*/2 * * * * *" }));
    const statuses = async () => (await runs(db)).map((row) => row.status);
    await expect.poll(statuses, eventually).toContain("succeeded");
    fast.injectFault({ status: 403, times: 1 });
    await expect.poll(statuses, eventually).toContain("failed");

    const [{ last } = { last: 0 }] = await db.query<{ last: number }>(
      "SELECT max(id)::int AS last FROM sync_runs",
    );
    // Refuse the worker's connections for a while (its pool is named elements-sync); the
    // test's own stay open, and it does not query meanwhile.
    const admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS false`);
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'elements-sync'",
        [db.name],
      );
      await expect
        .poll(
          () => logged(worker, "skipped a fire: could not claim it in the database").length,
          eventually,
        )
        .toBeGreaterThan(0);
    } finally {
      await admin.query(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await expect
      .poll(
        () => count(db, `SELECT 1 FROM sync_runs WHERE id > ${last} AND status = 'succeeded'`),
        eventually,
      )
      .toBeGreaterThan(0);
    expect(await stop(worker)).toMatchObject({ code: 0 });
  });

  it("exits 1 when the database cannot be reached at start", async () => {
    const result = await runCli(
      ["start"],
      environment(await database(), fast, {
        DATABASE_URL: "postgresql://someone:pa55word@127.0.0.1:1/nowhere",
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ECONNREFUSED");
    expect(result.stderr).not.toContain("pa55word");
  });

  it("stops a sync by hand at SIGINT: failed 'interrupted', exit 1", async () => {
    const db = await database();
    const sync = spawnCli(["sync"], environment(db, slow));
    running.push(sync);
    await expect
      .poll(() => count(db, "SELECT 1 FROM sync_runs WHERE status = 'running'"), eventually)
      .toBe(1);
    sync.child.kill("SIGINT");
    const exit = await sync.exited;
    running.splice(running.indexOf(sync), 1);
    expect(exit.code).toBe(1);
    expect(sync.stdout()).toMatch(/^run 1 failed after [\d.]+ s: interrupted\n$/);
    expect(await db.query("SELECT status, error FROM sync_runs")).toEqual([
      { status: "failed", error: "interrupted" },
    ]);
    expect(await count(db, "SELECT 1 FROM customers")).toBe(0);
  });

  it("refuses an invalid schedule or time zone as a configuration error", async () => {
    const db = await database();
    const badCron = await runCli(["start"], environment(db, fast, { SYNC_CRON: "61 * * * *" }));
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toContain(
      'configuration error: SYNC_CRON must be a cron expression such as "0 2 * * *"',
    );
    expect(badCron.stderr).toContain('got "61 * * * *"');
    const badZone = await runCli(["start"], environment(db, fast, { SYNC_TIMEZONE: "Mars/Base" }));
    expect(badZone.code).toBe(2);
    expect(badZone.stderr).toContain("SYNC_TIMEZONE must be an IANA time zone");
    expect(await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual(
      [],
    );
  });
});
