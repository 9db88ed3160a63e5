// The mass-removal guard's metrics: what the latest complete run withheld stays on
// /metrics until a later complete run applies or clears it, whatever runs in between, and
// a run whose removals were withheld is not a success to stop worrying about.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db.ts";
import { createWorkerMetrics, type WorkerMetrics } from "../src/worker/metrics.ts";
import { captureLogs, createHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { failed, syncChecked, syncOk } from "./support/runs.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";

let h: Harness;
let metrics: WorkerMetrics;
const customers = sampleCustomers(20);

beforeAll(async () => {
  h = await createHarness({ customers });
  metrics = createWorkerMetrics({
    db: h.database,
    log: captureLogs().logger,
    nextFire: () => null,
  });
});

afterAll(async () => {
  await h.close();
});

/** The guard's and the successes' samples after a scrape. */
async function scrape(from = metrics) {
  const text = await from.render();
  const sample = (name: string) => {
    const match = new RegExp(`^elements_sync_${name} (\\S+)$`, "m").exec(text);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  };
  return {
    withheld: sample("removals_withheld"),
    lastRunWithheld: sample("last_run_removals_withheld"),
    lastSuccess: sample("last_success_timestamp_seconds"),
    lastCompleteSuccess: sample("last_complete_success_timestamp_seconds"),
    lastRunFailed: sample('last_run_status{status="failed"}'),
    databaseUp: sample("database_up"),
  };
}

async function startOf(runId: number): Promise<number> {
  const [row] = await h.db.query<{ started: number }>(
    "SELECT extract(epoch FROM started_at)::float8 AS started FROM sync_runs WHERE id = $1",
    [runId],
  );
  return row?.started ?? Number.NaN;
}

describe("the guard's metrics", () => {
  it("say nothing withheld and no success (0) before any run", async () => {
    expect(await scrape()).toMatchObject({ withheld: 0, lastSuccess: 0, lastCompleteSuccess: 0 });
  });

  it("hold what the latest complete run withheld through --customer, failed and incomplete runs, until a complete run applies it", async () => {
    const clean = await syncOk(h);
    const cleanStart = await startOf(clean.runId);
    expect(await scrape()).toMatchObject({
      withheld: 0,
      lastSuccess: cleanStart,
      lastCompleteSuccess: cleanStart,
    });

    // 15 of 20 gone: the guard withholds them. Not a clean success, not a complete one.
    const kept = customers.slice(0, 5);
    await h.serve(kept);
    expect(await syncOk(h)).toMatchObject({ complete: true, removalsWithheld: 15 });
    expect(await scrape()).toMatchObject({
      withheld: 15,
      lastRunWithheld: 15,
      lastSuccess: cleanStart,
      lastCompleteSuccess: cleanStart,
    });

    // A --customer run: the last run withheld nothing, the guard still holds 15.
    await syncOk(h, { customerId: kept[0]?.id ?? "" });
    expect(await scrape()).toMatchObject({ withheld: 15, lastRunWithheld: 0 });

    // A failed run.
    h.simulator.injectFault({ status: 400 });
    failed(await syncChecked(h));
    expect(await scrape()).toMatchObject({ withheld: 15, lastRunWithheld: 0, lastRunFailed: 1 });

    // An incomplete run (a rejected record) decides no removals: still 15. It is a success.
    await h.serve([...kept, { jobStatus: 1, managementMode: 1 }]);
    const incomplete = await syncOk(h);
    expect(incomplete.complete).toBe(false);
    expect(await scrape()).toMatchObject({
      withheld: 15,
      lastSuccess: await startOf(incomplete.runId),
      lastCompleteSuccess: cleanStart,
    });

    // The operator confirms: the removals are applied, the guard holds nothing.
    await h.serve(kept);
    const applied = await syncOk(h, { allowMassRemoval: true });
    expect(applied).toMatchObject({ customersRemoved: 15, removalsWithheld: 0 });
    expect(await scrape()).toMatchObject({
      withheld: 0,
      lastSuccess: await startOf(applied.runId),
      lastCompleteSuccess: await startOf(applied.runId),
    });
  });

  it("clear when a later complete run finds the customers back", async () => {
    await h.serve([]);
    expect(await syncOk(h)).toMatchObject({ removalsWithheld: 5 });
    expect((await scrape()).withheld).toBe(5);
    await h.serve(customers.slice(0, 5));
    const back = await syncOk(h);
    expect(back).toMatchObject({ complete: true, removalsWithheld: 0, customersRemoved: 0 });
    expect(await scrape()).toMatchObject({
      withheld: 0,
      lastCompleteSuccess: await startOf(back.runId),
    });
  });

  it("vanish while the database cannot be read, rather than read 0, and come back with it", async () => {
    await h.serve([]);
    expect(await syncOk(h)).toMatchObject({ removalsWithheld: 5 });
    const proxy = await startTcpProxy(h.db.url);
    const database = openDatabase(proxy.route(h.db.url));
    const { logger } = captureLogs();
    const behindProxy = createWorkerMetrics({ db: database, log: logger, nextFire: () => null });
    try {
      expect(await scrape(behindProxy)).toMatchObject({ databaseUp: 1, withheld: 5 });
      proxy.refuse(true);
      proxy.cut();
      expect(await scrape(behindProxy)).toEqual({
        databaseUp: 0,
        withheld: undefined,
        lastRunWithheld: undefined,
        lastSuccess: undefined,
        lastCompleteSuccess: undefined,
        lastRunFailed: undefined,
      });
      proxy.refuse(false);
      expect(await scrape(behindProxy)).toMatchObject({ databaseUp: 1, withheld: 5 });
    } finally {
      await database.close();
      await proxy.close();
    }
  });
});
