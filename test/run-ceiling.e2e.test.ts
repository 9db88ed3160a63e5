// SYNC_MAX_DURATION_MS: a run that goes on longer fails cleanly with a reason, lets go of
// the lock, and the next fire runs. The API here holds page 1 unanswered for as long as the
// test says, well within ELEMENTS_TIMEOUT_MS, so only the ceiling can end the run.
import { afterEach, describe, expect, it } from "vitest";
import { createCliRig, logged, logLine, runOutcomes, type CliRig } from "./support/cli-rig.ts";
import { expectDataMatches } from "./support/data.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

const customers = sampleCustomers(20);
const CEILING_ERROR =
  "the run went on longer than SYNC_MAX_DURATION_MS (3000 ms) and was stopped; nothing merged";

let rig: CliRig | undefined;
let release: (() => void) | undefined;
afterEach(async () => {
  release?.();
  await rig?.close();
  rig = undefined;
});

/** A rig whose customers requests wait until `release()`; the runs it starts have a 3 s ceiling. */
async function stalledApi(): Promise<CliRig> {
  rig = await createCliRig({
    customers,
    env: {
      ELEMENTS_PAGE_SIZE: "10",
      ELEMENTS_TIMEOUT_MS: "600000",
      SYNC_MAX_DURATION_MS: "3000",
      LOG_LEVEL: "debug",
    },
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  rig.simulator.onCustomersRequest(async () => {
    await released;
    return undefined;
  });
  return rig;
}

describe("SYNC_MAX_DURATION_MS", () => {
  it("fails a sync that goes on longer, with the reason, exit 1, changing nothing", async () => {
    const r = await stalledApi();
    const result = await r.run(["sync"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^run 1 failed after [\d.]+ s: /);
    expect(result.stdout).toContain(CEILING_ERROR);
    expect(await runOutcomes(r.db)).toEqual([{ status: "failed", error: CEILING_ERROR }]);
    expect(await r.db.query("SELECT id FROM customers")).toEqual([]);
    await expectInvariants(r.db);
  });

  it("under start: the run that overran fails, the lock is free, the next fire runs", async () => {
    const r = await stalledApi();
    const worker = r.spawn(["start"], { SYNC_CRON: "* * * * * *" });
    await logLine(worker, (line) => line.msg === "sync run failed" && line.err === CEILING_ERROR);
    // The API answers again: the next fire must get the lock and run.
    release?.();
    await logLine(worker, (line) => line.msg === "sync run succeeded");
    worker.child.kill("SIGTERM");
    expect((await worker.exited).code).toBe(0);

    const [first, ...later] = await runOutcomes(r.db);
    expect(first).toEqual({ status: "failed", error: CEILING_ERROR });
    expect(later.map((run) => run.status)).toContain("succeeded");
    expect(logged(worker, "skipped a run: another run holds the database")).toEqual([]);
    await expectDataMatches(r.db, customers);
    await expectInvariants(r.db);
  });

  it("refuses a ceiling under a second as a configuration error", async () => {
    rig = await createCliRig();
    const result = await rig.run(["sync"], { SYNC_MAX_DURATION_MS: "10" });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'elements-sync sync: configuration error: SYNC_MAX_DURATION_MS must be a number of milliseconds from 1000 to 604800000 (7 days); got "10".',
    );
    expect(await rig.db.query("SELECT to_regclass('public.sync_runs') AS t")).toEqual([
      { t: null },
    ]);
  });
});
