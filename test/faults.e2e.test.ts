// End to end: the real sync against a hostile simulator, for the faults that
// sync.e2e and sync-edges do not already cover. Each run either succeeds with correct data
// or fails and changes nothing, and the next good run converges on the source.
import { describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { expectDataMatches, snapshotData } from "./support/data.ts";
import type { TestDatabase } from "./support/database.ts";
import {
  newCustomers,
  openHarness,
  sampleCustomers,
  type Harness,
  type HarnessOptions,
} from "./support/harness.ts";
import { failed, syncChecked, syncOk } from "./support/runs.ts";

/** A harness serving `customers` from memory, so tests can change them mid-run. */
async function start(
  customers: SimulatedCustomer[],
  options: HarnessOptions = {},
): Promise<Harness> {
  const harness = await openHarness({ pageSize: 10, ...options, customers });
  harness.simulator.setCustomers(customers);
  return harness;
}

async function isRemoved(db: TestDatabase, id: string): Promise<boolean> {
  const [row] = await db.query<{ removed: boolean }>(
    "SELECT removed_at IS NOT NULL AS removed FROM customers WHERE id = $1",
    [id],
  );
  if (!row) throw new Error(`customer ${id} was never stored`);
  return row.removed;
}

/** Runs `change` once, before the first page after page 1 is cut (whichever page that is). */
function onceAfterFirstPage(h: Harness, change: (customers: unknown[]) => unknown[]): void {
  let done = false;
  h.simulator.onCustomersRequest(({ pageIndex, customerIds, customers }) => {
    // Requests by id (re-confirming absent customers) see the data as it now is.
    if (done || pageIndex < 2 || customerIds !== undefined) return undefined;
    done = true;
    return change([...customers]);
  });
}

function flipped(customer: SimulatedCustomer): SimulatedCustomer {
  return { ...customer, jobStatus: customer.jobStatus === 2 ? 1 : 2 };
}

describe("bodies the client cannot use", () => {
  it("a 200 with truncated JSON is retried like a reset: the run succeeds", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    await syncOk(h);
    const changed = [flipped(customers[0] as SimulatedCustomer), ...customers.slice(2)];
    h.simulator.setCustomers(changed);
    const requestsBefore = h.simulator.requests.length;
    h.simulator.injectFault({ corrupt: "truncated-json", onPage: 2 });

    expect(await syncOk(h)).toMatchObject({
      complete: true,
      customersRemoved: 1,
      statusChanges: 1,
    });
    // Asked for again after the cut-off body.
    const page2 = h.simulator.requests.slice(requestsBefore).filter((r) => r.pageIndex === 2);
    expect(page2.map((r) => r.status)).toEqual([200, 200]);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        msg: "customers request failed; retrying",
        pageIndex: 2,
        kind: "retry",
        err: "The Elements API answered with a body that is not JSON.",
      }),
    );
    await expectDataMatches(h.db, changed);
  });

  it("a proxy's HTML page answered with 200 is retried too", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    h.simulator.injectFault({
      status: 200,
      onPage: 1,
      body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
    });
    expect(await syncOk(h)).toMatchObject({ complete: true, customersAdded: 25 });
    await expectDataMatches(h.db, customers);
  });

  it("a body that is never JSON fails the run within the attempt budget and changes nothing", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers, { maxAttempts: 3 });
    await syncOk(h);
    const before = await snapshotData(h.db);
    h.simulator.setCustomers([flipped(customers[0] as SimulatedCustomer), ...customers.slice(2)]);
    const requestsBefore = h.simulator.requests.length;
    h.simulator.injectFault({ corrupt: "truncated-json", onPage: 2, times: 100 });

    const run = failed(await syncChecked(h));
    expect(run.error).toMatch(
      /^The Elements API answered with a body that is not JSON\. \(page 2, gave up after 3 attempts\)/,
    );
    const page2 = h.simulator.requests.slice(requestsBefore).filter((r) => r.pageIndex === 2);
    expect(page2).toHaveLength(3);
    expect(await snapshotData(h.db)).toEqual(before);
  });
});

describe("403", () => {
  it("fails the first run at once with a message naming the permission, storing nothing", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers, { concurrency: 4 });
    h.simulator.injectFault({ status: 403, onPage: 1 });

    const run = failed(await syncChecked(h));
    expect(run.error).toBe(
      "The app registration lacks the permission elements.customers.read.all (403). Grant it under Elements > API app registration (" +
        '{"error":"simulated_fault","message":"simulated fault: 403 Forbidden"}).',
    );
    expect(h.simulator.requests.filter((r) => r.path !== "/connect/token")).toHaveLength(1);
    expect(h.logs.some((line) => line.msg === "customers request failed; retrying")).toBe(false);
    expect(await h.db.query("SELECT id FROM customers")).toEqual([]);

    await syncOk(h);
    await expectDataMatches(h.db, customers);
  });
});

describe("a list that changes while it is paged", () => {
  it("customers inserted mid-run shift the offsets: the run is incomplete and removes nothing", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    await syncOk(h);
    const [gone, ...rest] = customers;
    if (!gone) throw new Error("unreachable");
    h.simulator.setCustomers(rest);
    const inserted = newCustomers(3, 21, "inserted");
    onceAfterFirstPage(h, (current) => [...inserted, ...current]);

    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: false, customersRemoved: 0 });
    expect(run.incompleteReason).toBe("totalCount changed during the run (24 → 27)");
    // The customer deleted before the run is kept until a complete run proves it gone.
    expect(await isRemoved(h.db, gone.id)).toBe(false);
    const removedPeriods = await h.db.query(
      "SELECT id FROM customer_status_history WHERE removed AND opened_by_run_id = $1",
      [run.runId],
    );
    expect(removedPeriods).toEqual([]);

    h.simulator.onCustomersRequest(undefined);
    const next = await syncOk(h);
    expect(next).toMatchObject({ complete: true, customersRemoved: 1, customersAdded: 3 });
    expect(await isRemoved(h.db, gone.id)).toBe(true);
    await expectDataMatches(h.db, [...inserted, ...rest]);
  });

  it("one deleted and one inserted mid-run keep totalCount: the skipped customer is not removed", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    await syncOk(h);
    // After page 1 (customers 0–9), customer 0 is deleted and a new one appended: page 2
    // then starts at old customer 11, so customer 10 is never served by paging, yet the
    // distinct ids seen (0–9, 11–24, the new one) are exactly totalCount.
    const skipped = customers[10];
    const [deleted] = customers;
    const [added] = newCustomers(1, 22, "added");
    if (!skipped || !deleted || !added) throw new Error("unreachable");
    onceAfterFirstPage(h, (current) => [...current.slice(1), added]);

    const run = await syncOk(h);
    // Complete by count: only asking again for the absent customer shows it is still there.
    expect(run).toMatchObject({ complete: true, apiTotalCount: 25, customersRemoved: 0 });
    expect(await isRemoved(h.db, skipped.id)).toBe(false);
    // It was seen on page 1 before it went: the next run removes it.
    expect(await isRemoved(h.db, deleted.id)).toBe(false);

    h.simulator.onCustomersRequest(undefined);
    const next = await syncOk(h);
    expect(next).toMatchObject({ complete: true, customersRemoved: 1 });
    expect(await isRemoved(h.db, deleted.id)).toBe(true);
    await expectDataMatches(h.db, [...customers.slice(1), added]);
  });

  it("a totalCount that grows mid-run adds the pages it implies, but the run removes nothing", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers, { concurrency: 1 });
    await syncOk(h);
    const gone = customers[24];
    if (!gone) throw new Error("unreachable");
    const kept = customers.slice(0, 24);
    h.simulator.setCustomers(kept);
    const appended = newCustomers(8, 23, "appended");
    onceAfterFirstPage(h, (current) => [...current, ...appended]);

    const run = await syncOk(h);
    expect(run).toMatchObject({
      complete: false,
      incompleteReason: "totalCount changed during the run (24 → 32)",
      pagesFetched: 4,
      customersSeen: 32,
      customersAdded: 8,
      customersRemoved: 0,
    });
    expect(await isRemoved(h.db, gone.id)).toBe(false);

    h.simulator.onCustomersRequest(undefined);
    expect(await syncOk(h)).toMatchObject({ complete: true, customersRemoved: 1 });
    await expectDataMatches(h.db, [...kept, ...appended]);
  });

  it("a totalCount that shrinks mid-run makes the run incomplete, removing nothing", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    await syncOk(h);
    // Customers at the end of the list go between page 1 and the others.
    onceAfterFirstPage(h, (current) => current.slice(0, 22));

    const run = await syncOk(h);
    expect(run).toMatchObject({
      complete: false,
      incompleteReason: "totalCount changed during the run (25 → 22)",
      customersRemoved: 0,
    });
    for (const customer of customers.slice(22))
      expect(await isRemoved(h.db, customer.id)).toBe(false);

    h.simulator.onCustomersRequest(undefined);
    expect(await syncOk(h)).toMatchObject({ complete: true, customersRemoved: 3 });
    await expectDataMatches(h.db, customers.slice(0, 22));
  });
});

describe("the identity service failing mid-run", () => {
  it("a token that expires mid-run is replaced through a failing token endpoint", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers, { concurrency: 1 });
    await syncOk(h);
    const changed = customers.map((customer, i) => (i === 12 ? flipped(customer) : customer));
    h.simulator.setCustomers(changed);
    const earlier = h.simulator.requests.length;
    // The worker reuses its token from the last run, until page 2 finds it expired; the
    // new one takes three tries to get.
    h.simulator.injectFault({ expireTokens: true, onPage: 2 });
    h.simulator.injectFault({ endpoint: "token", status: 503, times: 2 });
    h.simulator.injectFault({ endpoint: "token", reset: true });

    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: true, customersSeen: 25, statusChanges: 1 });
    const requests = h.simulator.requests.slice(earlier);
    expect(requests.filter((r) => r.path === "/connect/token").map((r) => r.status)).toEqual([
      503, 503, 0, 200,
    ]);
    expect(requests.filter((r) => r.pageIndex === 2).map((r) => r.status)).toEqual([401, 200]);
    await expectDataMatches(h.db, changed);
  });

  it("a token endpoint that stays down after expiry fails the run and changes nothing", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    await syncOk(h);
    const before = await snapshotData(h.db);
    const changed = [flipped(customers[3] as SimulatedCustomer), ...customers.slice(5)];
    h.simulator.setCustomers(changed);
    h.simulator.injectFault({ expireTokens: true, onPage: 2 });
    h.simulator.injectFault({ endpoint: "token", status: 503, times: 1000 });

    const run = failed(await syncChecked(h));
    expect(run.error).toMatch(/identity service answered 503.*gave up after 5 attempts/);
    expect(await snapshotData(h.db)).toEqual(before);

    h.simulator.clearFaults();
    expect(await syncOk(h)).toMatchObject({ complete: true, customersRemoved: 4 });
    await expectDataMatches(h.db, changed);
  });
});
