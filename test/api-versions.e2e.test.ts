// The two versions of the customers endpoint (elements-api.md, "The live documentation
// differs from the seed"): today's filters by `customerIds`, the seed's by `customerId`, and
// each ignores the other's field, answering with a page of everyone. The worker must be right
// against both, and against a server that applies neither: a customer is removed only when a
// filter the server applied says it is gone.
import { afterEach, describe, expect, it } from "vitest";
import { generateCustomers, type SimulatedCustomer } from "../src/simulator/data.ts";
import type { ApiVersion, RequestLogEntry, Simulator } from "../src/simulator/server.ts";
import { runCli, spawnCli } from "./support/cli.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { newCustomers, openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed, runRow, syncChecked, syncOk } from "./support/runs.ts";
import { getToken } from "./support/simulator-http.ts";

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const VERSIONS: readonly ApiVersion[] = ["2025-10", "seed"];
const IGNORES_CUSTOMER_IDS = /^the Elements API ignores the customerIds filter/;
const IGNORES_BOTH =
  /^the Elements API ignored the id filter in both forms \(customerIds and customerId\): no customer can be asked for by id/;

async function removedIds(h: Harness): Promise<string[]> {
  const rows = await h.db.query<{ id: string }>(
    "SELECT id FROM customers WHERE removed_at IS NOT NULL ORDER BY id",
  );
  return rows.map((row) => row.id);
}

/** Customers requests that carried a filter, as [form, ids] in the order answered. */
function filtered(simulator: Simulator, from = 0): [string, string[]][] {
  return simulator.requests.slice(from).flatMap((r): [string, string[]][] => {
    if (r.customerIds !== undefined) return [["customerIds", r.customerIds]];
    if (r.customerId !== undefined) return [["customerId", [r.customerId]]];
    return [];
  });
}

function customersRequests(simulator: Simulator): RequestLogEntry[] {
  return simulator.requests.filter((r) => r.path.endsWith("/customers/batch"));
}

/**
 * Today's API pages by 50 when pageSize is absent, the seed's by 100: it is always sent. And
 * no request carries both forms of the filter (a seed server would apply customerId alone).
 */
function expectRequestsWellFormed(simulator: Simulator): void {
  const requests = customersRequests(simulator);
  expect(requests.length).toBeGreaterThan(0);
  for (const request of requests) {
    expect(request.search).toMatch(/[?&]pageSize=\d+(&|$)/);
    expect(request.customerId !== undefined && request.customerIds !== undefined).toBe(false);
  }
}

function countMessages(h: Harness, pattern: RegExp): number {
  return h.logs.filter((line) => pattern.test(String(line.msg))).length;
}

/**
 * 15 customers, 5 a page. While page 3 is being cut, the first customer is deleted and one
 * is appended: totalCount stays 15 and the run sees 15 distinct ids, but customer 10 moved
 * from page 3 onto page 2, which was already fetched. It is on no page, and not on page 1
 * either: an unfiltered answer to its lookup does not hold it.
 */
function skipOneByPaging(h: Harness, customers: readonly SimulatedCustomer[]) {
  const [deleted, skipped, added] = [customers[0], customers[10], newCustomers(1, 7, "added")[0]];
  if (!deleted || !skipped || !added) throw new Error("sample too small");
  let changed = false;
  h.simulator.onCustomersRequest(({ pageIndex, customerIds, customers: current }) => {
    if (changed || pageIndex !== 3 || customerIds !== undefined) return undefined;
    changed = true;
    return [...current.slice(1), added];
  });
  return { deleted, skipped };
}

describe.each(VERSIONS)("against a %s server", (apiVersion) => {
  it("a customer skipped by paging is looked up and found, not removed; a deleted one is removed", async () => {
    const customers = sampleCustomers(15);
    const h = await openHarness({
      customers,
      pageSize: 5,
      concurrency: 1,
      simulator: { apiVersion },
    });
    await syncOk(h);
    const { deleted, skipped } = skipOneByPaging(h, customers);
    const before = h.simulator.requests.length;

    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: true, customersRemoved: 0, customersAdded: 1 });
    expect(await removedIds(h)).toEqual([]);
    // Today's server applies customerIds. The seed's ignores it: its answer (page 1 of
    // everyone, without the customer) confirms nothing, and customerId follows.
    expect(filtered(h.simulator, before)).toEqual(
      apiVersion === "2025-10"
        ? [["customerIds", [skipped.id]]]
        : [
            ["customerIds", [skipped.id]],
            ["customerId", [skipped.id]],
          ],
    );
    expect(countMessages(h, IGNORES_CUSTOMER_IDS)).toBe(apiVersion === "seed" ? 1 : 0);

    // The deleted customer is missing from the next run's pages: asked for, and gone.
    h.simulator.onCustomersRequest(undefined);
    const nextRun = h.simulator.requests.length;
    const next = await syncOk(h);
    expect(next).toMatchObject({ complete: true, customersRemoved: 1 });
    expect(await removedIds(h)).toEqual([deleted.id]);
    // Every run starts with today's form again.
    expect(filtered(h.simulator, nextRun)).toEqual(
      apiVersion === "2025-10"
        ? [["customerIds", [deleted.id]]]
        : [
            ["customerIds", [deleted.id]],
            ["customerId", [deleted.id]],
          ],
    );
    expectRequestsWellFormed(h.simulator);
  });

  it("sync --customer, repeated or as a comma list, syncs exactly those customers, none on page 1", async () => {
    const customers = sampleCustomers(250, 3);
    const [first, second, third] = [customers[150], customers[220], customers[249]];
    if (!first || !second || !third) throw new Error("sample too small");
    rig = await createCliRig({ customers, simulator: { apiVersion } });
    const count = async () =>
      (await rig?.db.query<{ id: string }>("SELECT id FROM customers ORDER BY id"))?.map(
        (row) => row.id,
      );

    const repeated = await rig.run(["sync", "--customer", first.id, "--customer", second.id]);
    expect(repeated.code, repeated.stderr).toBe(0);
    expect(repeated.stdout).toMatch(/ 2 customers \(incomplete: run of 2 named customers/);
    expect(await count()).toEqual([first.id, second.id].sort());
    const byIdToday = [["customerIds", [first.id, second.id]]];
    const byIdSeed = [
      ["customerIds", [first.id, second.id]],
      ["customerId", [first.id]],
      ["customerId", [second.id]],
    ];
    const sortedForms = (requests: [string, string[]][]) =>
      requests.map((r) => JSON.stringify(r)).sort();
    expect(sortedForms(filtered(rig.simulator))).toEqual(
      sortedForms((apiVersion === "2025-10" ? byIdToday : byIdSeed) as [string, string[]][]),
    );

    // A comma list, a repeat and a duplicate: each customer once.
    const before = rig.simulator.requests.length;
    const listed = await rig.run([
      "sync",
      "--customer",
      `${second.id},${third.id}`,
      "--customer",
      second.id,
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(await count()).toEqual([first.id, second.id, third.id].sort());
    const asked = filtered(rig.simulator, before).flatMap(([, ids]) => ids);
    expect([...new Set(asked)].sort()).toEqual([second.id, third.id].sort());
    const [row] = await rig.db.query(
      "SELECT customer_filter, complete, customers_seen FROM sync_runs ORDER BY id DESC LIMIT 1",
    );
    expect(row).toEqual({
      customer_filter: `${second.id},${third.id}`,
      complete: false,
      customers_seen: 2,
    });

    // An id the server (applying the filter) does not have fails the run, naming it.
    const unknown = await rig.run(["sync", "--customer", `${first.id},no-such-customer`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(
      /The Elements API returned no customer with id no-such-customer\./,
    );
    expectRequestsWellFormed(rig.simulator);
    await expectInvariants(rig.db);
  });
});

describe("removal lookups ask for a page of ids per request", () => {
  it("confirm 10,000 customers gone in 100 requests on today's server", async () => {
    const all = sampleCustomers(10_050, 21);
    const h = await openHarness({ customers: [], pageSize: 100 });
    h.simulator.setCustomers(all);
    await syncOk(h);
    h.simulator.setCustomers(all.slice(10_000));
    const before = h.simulator.requests.length;

    const run = await syncOk(h, { allowMassRemoval: true });
    expect(run).toMatchObject({ complete: true, customersRemoved: 10_000 });
    const lookups = filtered(h.simulator, before);
    expect(lookups).toHaveLength(100);
    expect(lookups.every(([form, ids]) => form === "customerIds" && ids.length === 100)).toBe(true);
    expect(new Set(lookups.flatMap(([, ids]) => ids)).size).toBe(10_000);
    expect(countMessages(h, IGNORES_CUSTOMER_IDS)).toBe(0);
  });

  it("fall back to one id per request on a seed server", async () => {
    const customers = sampleCustomers(60, 22);
    const h = await openHarness({
      customers,
      pageSize: 10,
      simulator: { apiVersion: "seed" },
    });
    await syncOk(h);
    await h.serve(customers.slice(30));
    const before = h.simulator.requests.length;

    const run = await syncOk(h, { allowMassRemoval: true });
    expect(run).toMatchObject({ complete: true, customersRemoved: 30 });
    const lookups = filtered(h.simulator, before);
    const single = lookups.filter(([form]) => form === "customerId").flatMap(([, ids]) => ids);
    expect(single.sort()).toEqual(
      customers
        .slice(0, 30)
        .map((c) => c.id)
        .sort(),
    );
    // The batches sent before the first answer showed customerIds ignored: at most one
    // per request in flight (ELEMENTS_CONCURRENCY, 4).
    const batches = lookups.filter(([form]) => form === "customerIds");
    expect(batches.length).toBeGreaterThanOrEqual(1);
    expect(batches.length).toBeLessThanOrEqual(3);
    expect(countMessages(h, IGNORES_CUSTOMER_IDS)).toBe(1);
    expectRequestsWellFormed(h.simulator);
  });
});

describe("a server that applies neither form of the filter", () => {
  it("removes nothing: the run is incomplete, says why, and each warning is logged once", async () => {
    const customers = sampleCustomers(25, 23);
    const h = await openHarness({
      customers,
      pageSize: 2,
      simulator: { ignoreIdFilter: true },
    });
    await syncOk(h);
    await h.serve(customers.slice(5));

    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: false, customersRemoved: 0, removalsWithheld: 0 });
    expect(run.incompleteReason).toBe(
      "the Elements API ignored the id filter in both forms (customerIds and customerId), so the removal of 5 customer(s) missing from the pages could not be confirmed",
    );
    expect(await runRow(h.db, run.runId)).toMatchObject({
      complete: false,
      incomplete_reason: run.incompleteReason,
    });
    expect(await removedIds(h)).toEqual([]);
    // Several answers in flight showed each form ignored; each is said once.
    const lookups = filtered(h.simulator);
    expect(lookups.filter(([form]) => form === "customerIds").length).toBeGreaterThan(1);
    expect(lookups.filter(([form]) => form === "customerId").length).toBeGreaterThan(1);
    expect(countMessages(h, IGNORES_CUSTOMER_IDS)).toBe(1);
    expect(countMessages(h, IGNORES_BOTH)).toBe(1);
    expectRequestsWellFormed(h.simulator);
  });

  it("fails sync --customer with a clear message rather than guess", async () => {
    const customers = sampleCustomers(25, 24);
    const h = await openHarness({ customers, simulator: { ignoreIdFilter: true } });
    const wanted = customers.slice(20).map((c) => c.id);
    const run = failed(await syncChecked(h, { customerIds: wanted }));
    expect(run.error).toBe(
      `The Elements API ignored the id filter in both forms (customerIds and customerId): it cannot be asked for customer ${wanted.join(", ")}, so nothing was synced.`,
    );
    expect(await h.db.query("SELECT id FROM customers")).toEqual([]);
  });

  it("does not take an unfiltered page whose records were all asked for as a filtered one", async () => {
    const customers = sampleCustomers(25, 25);
    const [a, b, x] = [customers[0], customers[1], customers[20]];
    if (!a || !b || !x) throw new Error("sample too small");
    const h = await openHarness({
      customers,
      pageSize: 2,
      simulator: { ignoreIdFilter: true },
    });
    // Page 1 of everyone is [a, b], both asked for; its totalCount (25) shows it is not
    // the answer to a filter of 3 ids, so x is not "gone": it cannot be asked for.
    const run = failed(await syncChecked(h, { customerIds: [a.id, b.id, x.id] }));
    expect(run.error).toMatch(/ignored the id filter in both forms/);
    expect(run.error).toContain(`it cannot be asked for customer ${x.id}, so nothing`);
  });
});

describe("sync --customer on the command line", () => {
  it.each([
    [["--customer", ""], '--customer has an empty id in ""'],
    [["--customer", "a,,b"], '--customer has an empty id in "a,,b"'],
    [["--customer", "a", "--customer", "b,"], '--customer has an empty id in "b,"'],
  ])("refuses %j with one message, exit 2, nothing written", async (args, message) => {
    rig = await createCliRig({ customers: sampleCustomers(3) });
    const result = await rig.run(["sync", ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `elements-sync sync: usage: ${message}; give ids separated by commas, none empty. Run \`elements-sync help sync\` for its options.`,
    );
    expect(rig.simulator.requests).toEqual([]);
    const tables = await rig.db.query("SELECT 1 FROM pg_tables WHERE tablename = 'sync_runs'");
    expect(tables).toEqual([]);
  });
});

describe("a filtered answer over several pages", () => {
  it("is followed to its last page when the server serves fewer records a page than asked", async () => {
    const customers = sampleCustomers(20, 26);
    const wanted = [customers[3], customers[9], customers[15]].map((c) => c?.id ?? "");
    const h = await openHarness({ customers, simulator: { servedPageSize: 2 } });
    const run = await syncOk(h, { customerIds: wanted });
    expect(run).toMatchObject({ customersSeen: 3, complete: false });
    // Page 1 holds 2 of the 3 it counts; page 2 the last.
    expect(customersRequests(h.simulator).map((r) => [r.pageIndex, r.customerIds?.length])).toEqual(
      [
        [1, 3],
        [2, 3],
      ],
    );
    expect(countMessages(h, IGNORES_CUSTOMER_IDS)).toBe(0);

    const missing = failed(await syncChecked(h, { customerIds: [...wanted, "no-such-customer"] }));
    expect(missing.error).toBe("The Elements API returned no customer with id no-such-customer.");
  });
});

describe("removal lookups on a server that serves smaller pages than asked", () => {
  it("ask for as many ids per request as it serves records per page", async () => {
    const customers = sampleCustomers(30, 27);
    const h = await openHarness({
      customers,
      pageSize: 10,
      simulator: { servedPageSize: 5 },
    });
    await syncOk(h);
    await h.serve(customers.slice(6));
    const before = h.simulator.requests.length;
    expect(await syncOk(h)).toMatchObject({ complete: true, customersRemoved: 6 });
    const lookups = filtered(h.simulator, before);
    // Two requests in flight at once: answered in either order.
    expect(lookups.map(([form, ids]) => `${form} ${ids.length}`).sort()).toEqual([
      "customerIds 1",
      "customerIds 5",
    ]);
    expect(
      customersRequests(h.simulator)
        .slice(-2)
        .map((r) => r.pageSize),
    ).toEqual([5, 5]);
  });
});

describe("simulate --api-version", () => {
  async function firstPage(url: string, body: unknown): Promise<number> {
    const token = await getToken({ url });
    const response = await fetch(
      `${url}/partner/external/v3/general/customers/batch?pageIndex=1&pageSize=10`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      },
    );
    return ((await response.json()) as { metadata: { totalCount: number } }).metadata.totalCount;
  }

  it("serves the seed's version: customerId filters, customerIds is ignored", async () => {
    const simulate = spawnCli(["simulate", "--api-version", "seed", "--customers", "30"], {});
    try {
      const listening = /\(API version seed\) listening on (http:\/\/\S+)/;
      await expect
        .poll(() => listening.exec(simulate.stdout())?.[1], { timeout: 20_000 })
        .toBeDefined();
      const url = listening.exec(simulate.stdout())?.[1] ?? "";
      const [one] = generateCustomers(30, 1);
      expect(await firstPage(url, { customerId: one?.id })).toBe(1);
      expect(await firstPage(url, { customerIds: [one?.id] })).toBe(30);
    } finally {
      simulate.child.kill("SIGTERM");
      expect((await simulate.exited).code).toBe(0);
    }
  });

  it("refuses a version it does not speak, with one message and exit 2", async () => {
    const result = await runCli(["simulate", "--api-version", "2024-01"], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'elements-sync simulate: usage: --api-version must be 2025-10 or seed; got "2024-01". Run `elements-sync help simulate` for its options.',
    );
  });
});
