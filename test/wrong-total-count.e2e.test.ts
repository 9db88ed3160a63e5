// A totalCount that says far more than the pages hold must not make the worker page on:
// the fetch stops at the first empty page, and a ceiling derived from the customers the
// pages added bounds the requests whatever the number says. The run is incomplete, says
// why, and removes nothing. Driven through the real CLI.
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_CONCURRENCY } from "../src/sync/defaults.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { expectDataMatches, snapshotData } from "./support/data.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

const BILLION = 1_000_000_000;
const PAGE_SIZE = 100;

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const customersRequests = (r: CliRig, after: number) =>
  r.simulator.requests.slice(after).filter((request) => request.path !== "/connect/token");

const lastRun = async (r: CliRig) =>
  (
    await r.db.query<{ status: string; complete: boolean; incomplete_reason: string | null }>(
      "SELECT status, complete, incomplete_reason FROM sync_runs ORDER BY id DESC LIMIT 1",
    )
  )[0];

describe("a totalCount far beyond what the pages hold", () => {
  it("stops at the first empty page: a handful of requests, incomplete, nothing removed", async () => {
    const customers = sampleCustomers(3);
    const r = (rig = await createCliRig({ customers }));
    expect((await r.run(["sync"])).code).toBe(0);
    const before = await snapshotData(r.db, { withoutLastSeen: true });

    // Page 1 holds the three customers and says there are a billion; the rest are empty.
    r.simulator.injectFault({ totalCount: BILLION, times: 1_000_000 });
    const earlier = r.simulator.requests.length;
    const result = await r.run(["sync"]);
    expect(result.code).toBe(0);
    const reason = `paging stopped early: page 2 came back empty although totalCount ${BILLION} implies ${BILLION / PAGE_SIZE} page(s)`;
    expect(result.stdout).toContain(`3 customers (incomplete: ${reason})`);
    expect(await lastRun(r)).toEqual({
      status: "succeeded",
      complete: false,
      incomplete_reason: reason,
    });
    // Page 1, then at most the ceiling: 1 + concurrency + 2 × ceil(3 / 100) pages.
    expect(customersRequests(r, earlier).length).toBeLessThanOrEqual(1 + DEFAULT_CONCURRENCY + 2);
    expect(result.stderr).toContain('"msg":"stopped paging early: the run will be incomplete"');
    expect(await snapshotData(r.db, { withoutLastSeen: true })).toEqual(before);
    await expectDataMatches(r.db, customers);
    await expectInvariants(r.db);
  });

  it("stops at the request ceiling when the pages hold nothing it can store", async () => {
    const r = (rig = await createCliRig());
    // Full pages, none of it usable (no ids): neither empty nor repeated, so only the
    // ceiling stops the paging: 1 + concurrency + 2 × ceil(0 / 100) pages.
    const unusable = Array.from({ length: 50 * PAGE_SIZE }, (_, i) => ({ organization: `n${i}` }));
    r.simulator.setCustomers(unusable);
    r.simulator.injectFault({ totalCount: BILLION, times: 1_000_000 });
    const result = await r.run(["sync"]);
    expect(result.code).toBe(0);
    const ceiling = 1 + DEFAULT_CONCURRENCY;
    expect(customersRequests(r, 0)).toHaveLength(ceiling);
    expect(await lastRun(r)).toEqual({
      status: "succeeded",
      complete: false,
      incomplete_reason: `paging stopped early: ${ceiling} page(s) held only 0 distinct customer(s) of totalCount ${BILLION}: stopped at the request ceiling (page ${ceiling} of ${BILLION / PAGE_SIZE})`,
    });
    expect(await r.db.query("SELECT id FROM customers")).toEqual([]);
    await expectInvariants(r.db);
  });
});
