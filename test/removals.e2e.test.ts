// What a complete run may mark removed: the mass-removal guard, and the lookup by id that
// keeps a customer skipped by offset paging from being marked removed.
import { describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { createWorkerMetrics } from "../src/worker/metrics.ts";
import { runCli, simulatorEnv } from "./support/cli.ts";
import { captureLogs, openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { runRow, succeeded, syncChecked, syncOk } from "./support/runs.ts";

async function removedIds(h: Harness): Promise<string[]> {
  const rows = await h.db.query<{ id: string }>(
    "SELECT id FROM customers WHERE removed_at IS NOT NULL ORDER BY id",
  );
  return rows.map((row) => row.id);
}

/** The customer ids the sync asked for by id (in either form), in the order of the requests. */
function lookups(h: Harness): string[] {
  return h.simulator.requests.flatMap(
    (r) => r.customerIds ?? (r.customerId === undefined ? [] : [r.customerId]),
  );
}

const ids = (customers: readonly SimulatedCustomer[]) => customers.map((c) => c.id).sort();

describe("the mass-removal guard", () => {
  it("keeps every customer when the API suddenly lists none, and says so on the run and in the logs", async () => {
    const customers = sampleCustomers(25);
    const h = await openHarness({ customers });
    await syncOk(h);
    await h.serve([]);

    const guarded = await syncOk(h);
    expect(guarded).toMatchObject({ complete: true, customersRemoved: 0, removalsWithheld: 25 });
    expect(guarded.warning).toMatch(
      /^mass-removal guard: the API no longer lists 25 of 25 present customers \(100%, over MAX_REMOVAL_FRACTION 0\.2\); none were marked removed\./,
    );
    expect(await runRow(h.db, guarded.runId)).toMatchObject({
      status: "succeeded",
      customers_removed: 0,
      removals_withheld: 25,
      warning: guarded.warning,
    });
    expect(await removedIds(h)).toEqual([]);
    const [tenants] = await h.db.query<{ removed: number }>(
      "SELECT count(*)::int AS removed FROM tenants WHERE removed_at IS NOT NULL",
    );
    expect(tenants?.removed).toBe(0);
    expect(h.logs).toContainEqual(expect.objectContaining({ level: 40, msg: guarded.warning }));
    const metrics = createWorkerMetrics({
      db: h.database,
      log: captureLogs().logger,
      nextFire: () => null,
    });
    expect(await metrics.render()).toMatch(/^elements_sync_last_run_removals_withheld 25$/m);

    // The operator confirms: the same data with the guard lifted removes them all.
    const allowed = await syncOk(h, { allowMassRemoval: true });
    expect(allowed).toMatchObject({ customersRemoved: 25, removalsWithheld: 0, warning: null });
    expect(await metrics.render()).toMatch(/^elements_sync_last_run_removals_withheld 0$/m);
    expect(await removedIds(h)).toEqual(ids(customers));
  });

  it("allows removing up to MAX_REMOVAL_FRACTION of the present customers and withholds more", async () => {
    const customers = sampleCustomers(25);
    const h = await openHarness({ customers });
    await syncOk(h);

    // 6 of 25 is 24%: over the default 20%.
    await h.serve(customers.slice(6));
    expect(await syncOk(h)).toMatchObject({ customersRemoved: 0, removalsWithheld: 6 });
    expect(await removedIds(h)).toEqual([]);

    // A higher limit lets the same run through.
    expect(await syncOk(h, { maxRemovalFraction: 0.25 })).toMatchObject({
      customersRemoved: 6,
      removalsWithheld: 0,
      warning: null,
    });
    expect(await removedIds(h)).toEqual(ids(customers.slice(0, 6)));

    // 5 of the 19 still present would be 26%; 4 of 19 is 21%; 3 of 19 is 15.8%: allowed.
    await h.serve(customers.slice(9));
    expect(await syncOk(h)).toMatchObject({ customersRemoved: 3, removalsWithheld: 0 });
  });

  it("is set by MAX_REMOVAL_FRACTION and lifted by sync --allow-mass-removal on the command line", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers });
    const env = simulatorEnv(h.db.url, h.simulator.url);
    expect((await runCli(["sync"], env)).code).toBe(0);
    await h.serve(customers.slice(3));

    const guarded = await runCli(["sync"], env);
    expect(guarded.code).toBe(0);
    expect(guarded.stdout).toMatch(/0 removed/);
    expect(guarded.stdout).toMatch(
      /\nwarning: mass-removal guard: the API no longer lists 3 of 10 present customers \(30%, over MAX_REMOVAL_FRACTION 0\.2\)/,
    );

    const status = await runCli(["status", "--json"], env);
    const [latest] = (JSON.parse(status.stdout) as { runs: Record<string, unknown>[] }).runs;
    expect(latest).toMatchObject({
      status: "succeeded",
      removalsWithheld: 3,
      warning: expect.stringMatching(/^mass-removal guard: /) as unknown,
    });
    const table = await runCli(["status", "--runs", "1", "--wide"], env);
    expect(table.stdout).toMatch(
      / succeeded .* mass-removal guard: the API no longer lists 3 of 1/,
    );

    const raised = await runCli(["sync"], { ...env, MAX_REMOVAL_FRACTION: "0.25" });
    expect(raised.stdout).toMatch(/0 removed/);

    const allowed = await runCli(["sync", "--allow-mass-removal"], env);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/3 removed/);
    expect(allowed.stdout).not.toMatch(/warning/);
    expect(await removedIds(h)).toEqual(ids(customers.slice(0, 3)));
    await expectInvariants(h.db);
  });
});

describe("customers missing from the pages", () => {
  it("are asked for by id: one skipped by offset paging is merged, not removed; a deleted one is removed once missing", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers, pageSize: 5, concurrency: 1 });
    await syncOk(h);
    const [deleted, , , , , skipped] = customers;
    if (!deleted || !skipped) throw new Error("sample too small");
    const added = sampleCustomers(11, 99)[10];
    if (!added) throw new Error("sample too small");
    const after = [...customers.slice(1), added];

    // Page 2 is held back while the list changes under the run: one customer deleted before
    // the offset, one appended. totalCount stays 10 and the run sees 10 distinct ids, but
    // the customer that moved onto page 1 was never on a page it fetched.
    h.simulator.injectFault({ onPage: 2, delayMs: 400 });
    const earlier = h.simulator.requests.length;
    const running = h.sync();
    await expect
      .poll(() => h.simulator.requests.slice(earlier).some((r) => r.pageIndex === 1))
      .toBe(true);
    await h.serve(after);
    const run = succeeded(await running);
    await expectInvariants(h.db);

    // Without the lookup the skipped customer would have been marked removed here.
    expect(run).toMatchObject({ complete: true, customersRemoved: 0, customersAdded: 1 });
    expect(await removedIds(h)).toEqual([]);
    expect(lookups(h)).toEqual([skipped.id]);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        found: 1,
        msg: expect.stringMatching(/skipped by paging/) as unknown,
      }),
    );

    // The deleted customer was on page 1 before it went; the next run misses it, asks for
    // it, and marks it removed.
    expect(await syncOk(h)).toMatchObject({ customersRemoved: 1, customersAdded: 0 });
    expect(await removedIds(h)).toEqual([deleted.id]);
    expect(lookups(h)).toEqual([skipped.id, deleted.id]);
  });

  it("treats a 404 for a customer as confirmation that it is gone", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers, pageSize: 5, concurrency: 1 });
    await syncOk(h);
    await h.serve(customers.slice(1));
    // Page 1 is served; the lookup of the missing customer (also pageIndex 1) gets the 404.
    h.simulator.injectFault({ onPage: 1, delayMs: 0 });
    h.simulator.injectFault({ onPage: 1, status: 404 });
    expect(await syncOk(h)).toMatchObject({ customersRemoved: 1 });
  });

  it("fails the run, changing nothing, when a lookup fails", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers, pageSize: 10, concurrency: 1 });
    await syncOk(h);
    await h.serve(customers.slice(1));
    // Page 1 is served; the lookup (also pageIndex 1) is refused.
    h.simulator.injectFault({ onPage: 1, delayMs: 0 });
    h.simulator.injectFault({ onPage: 1, status: 403 });
    const run = await syncChecked(h);
    expect(run).toMatchObject({ status: "failed", error: expect.stringMatching(/403/) as unknown });
    expect(await removedIds(h)).toEqual([]);
  });

  it("removes nothing when a missing customer exists but its record is rejected", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers, pageSize: 10, concurrency: 1 });
    await syncOk(h);
    const [first] = customers;
    if (!first) throw new Error("sample too small");
    // The pages leave the first customer out; asked for by id, it comes with a broken record.
    h.simulator.injectFault({ onPage: 1, delayMs: 0 });
    await h.serve(customers.slice(1));
    const broken = { ...first, jobStatus: "failed" };
    h.simulator.injectFault({
      onPage: 1,
      status: 200,
      body: JSON.stringify({ data: [broken], metadata: { totalCount: 1 } }),
    });
    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: false, customersRemoved: 0 });
    expect(run.incompleteReason).toMatch(/exist but their record was rejected/);
    expect(await removedIds(h)).toEqual([]);
  });
});
