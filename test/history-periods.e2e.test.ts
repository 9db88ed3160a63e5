// End to end: the real sync against the simulator over HTTP and a real PostgreSQL.
import { describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { expectDataMatches, snapshotData } from "./support/data.ts";
import type { TestDatabase } from "./support/database.ts";
import { harnessAt, openHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed, syncOk } from "./support/runs.ts";

async function openPeriod(db: TestDatabase, customerId: string) {
  const rows = await db.query<{
    job_status: number;
    management_mode: number;
    removed: boolean;
    opened_by_run_id: number;
  }>(
    "SELECT job_status, management_mode, removed, opened_by_run_id FROM customer_status_history WHERE customer_id = $1 AND valid_to IS NULL",
    [customerId],
  );
  expect(rows).toHaveLength(1);
  return rows[0];
}

function edit(
  customers: SimulatedCustomer[],
  index: number,
  change: Partial<SimulatedCustomer>,
): SimulatedCustomer {
  const customer = customers[index];
  if (!customer) throw new Error(`no customer ${index}`);
  Object.assign(customer, change);
  return customer;
}

// Every scenario runs with pages fetched one at a time and eight at a time.
describe.each([1, 8])("sync end to end, %i page(s) at a time", (concurrency) => {
  const start = harnessAt(concurrency);

  it("first run stores every customer, tenant and one open period each", async () => {
    const customers = sampleCustomers(25);
    const h = await start(customers);
    const run = await syncOk(h);

    const tenantCount = customers.reduce((sum, c) => sum + c.tenants.length, 0);
    expect(run).toMatchObject({
      complete: true,
      apiTotalCount: 25,
      pagesFetched: 3,
      customersSeen: 25,
      tenantsSeen: tenantCount,
      customersAdded: 25,
      customersRemoved: 0,
      statusChanges: 0,
      rejectedRecords: 0,
    });
    await expectDataMatches(h.db, customers);
    const history = await h.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM customer_status_history WHERE opened_by_run_id = $1",
      [run.runId],
    );
    expect(history[0]?.n).toBe(25);
    const [row] = await h.db.query(
      "SELECT status, complete, finished_at IS NOT NULL AS finished, error FROM sync_runs WHERE id = $1",
      [run.runId],
    );
    expect(row).toEqual({ status: "succeeded", complete: true, finished: true, error: null });
  });

  it("an unchanged re-run adds no history and changes nothing but last_seen_at", async () => {
    const h = await start();
    await syncOk(h);
    const before = await snapshotData(h.db, { withoutLastSeen: true });
    const lastSeenBefore = await h.db.query<{ max: Date }>(
      "SELECT max(last_seen_at) AS max FROM customers",
    );

    const run = await syncOk(h);
    expect(run).toMatchObject({
      customersAdded: 0,
      customersRemoved: 0,
      customersRestored: 0,
      statusChanges: 0,
      complete: true,
    });
    expect(await snapshotData(h.db, { withoutLastSeen: true })).toEqual(before);
    const lastSeenAfter = await h.db.query<{ min: Date }>(
      "SELECT min(last_seen_at) AS min FROM customers",
    );
    expect(lastSeenAfter[0]?.min.getTime()).toBeGreaterThan(
      lastSeenBefore[0]?.max.getTime() ?? Infinity,
    );
  });

  it("a job-status change closes the old period and opens a new one", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    const first = await syncOk(h);
    const changed = edit(customers, 3, { jobStatus: customers[3]?.jobStatus === 2 ? 1 : 2 });
    await h.serve(customers);

    const second = await syncOk(h);
    expect(second.statusChanges).toBe(1);
    const periods = await h.db.query(
      "SELECT job_status, removed, opened_by_run_id, closed_by_run_id FROM customer_status_history WHERE customer_id = $1 ORDER BY valid_from",
      [changed.id],
    );
    expect(periods).toEqual([
      {
        job_status: sampleCustomers()[3]?.jobStatus,
        removed: false,
        opened_by_run_id: first.runId,
        closed_by_run_id: second.runId,
      },
      {
        job_status: changed.jobStatus,
        removed: false,
        opened_by_run_id: second.runId,
        closed_by_run_id: null,
      },
    ]);
    const [customer] = await h.db.query("SELECT job_status FROM customers WHERE id = $1", [
      changed.id,
    ]);
    expect(customer).toEqual({ job_status: changed.jobStatus });
  });

  it("a management-mode change is a new period too", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    const changed = edit(customers, 0, {
      managementMode: ((customers[0]?.managementMode ?? 0) + 1) % 3,
    });
    await h.serve(customers);

    const second = await syncOk(h);
    expect(second.statusChanges).toBe(1);
    expect(await openPeriod(h.db, changed.id)).toMatchObject({
      management_mode: changed.managementMode,
      opened_by_run_id: second.runId,
    });
  });

  it("a complete run marks absent customers and their tenants removed; a later run restores them", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    const gone = customers.find((c) => c.tenants.length > 0);
    if (!gone) throw new Error("sample has no customer with tenants");
    await h.serve(customers.filter((c) => c !== gone));

    const removal = await syncOk(h);
    expect(removal).toMatchObject({ complete: true, customersRemoved: 1, customersSeen: 24 });
    expect(await openPeriod(h.db, gone.id)).toMatchObject({
      removed: true,
      job_status: gone.jobStatus,
      opened_by_run_id: removal.runId,
    });
    const [removedCustomer] = await h.db.query<{ removed: boolean }>(
      "SELECT removed_at IS NOT NULL AS removed FROM customers WHERE id = $1",
      [gone.id],
    );
    expect(removedCustomer?.removed).toBe(true);
    const liveTenants = await h.db.query(
      "SELECT id FROM tenants WHERE customer_id = $1 AND removed_at IS NULL",
      [gone.id],
    );
    expect(liveTenants).toEqual([]);

    await h.serve(customers);
    const restore = await syncOk(h);
    expect(restore).toMatchObject({ customersRestored: 1, customersRemoved: 0, customersAdded: 0 });
    expect(await openPeriod(h.db, gone.id)).toMatchObject({
      removed: false,
      opened_by_run_id: restore.runId,
    });
    const restoredTenants = await h.db.query(
      "SELECT id FROM tenants WHERE customer_id = $1 AND removed_at IS NULL",
      [gone.id],
    );
    expect(restoredTenants).toHaveLength(gone.tenants.length);
  });

  it("tracks tenants added, removed and renamed", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    const owner = customers.find((c) => c.tenants.length >= 2);
    if (!owner) throw new Error("sample has no customer with two tenants");
    const [renamed, dropped] = owner.tenants;
    if (!renamed || !dropped) throw new Error("unreachable");
    owner.tenants = [
      { ...renamed, name: "renamed-tenant" },
      ...owner.tenants.slice(2),
      { id: "tenant-new", name: "brand-new" },
    ];
    await h.serve(customers);

    await syncOk(h);
    const rows = await h.db.query(
      "SELECT id, name, removed_at IS NOT NULL AS removed FROM tenants WHERE customer_id = $1 AND id = ANY($2) ORDER BY id",
      [owner.id, [renamed.id, dropped.id, "tenant-new"]],
    );
    expect(rows).toEqual(
      [
        { id: renamed.id, name: "renamed-tenant", removed: false },
        { id: dropped.id, name: dropped.name, removed: true },
        { id: "tenant-new", name: "brand-new", removed: false },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
  });

  it("an incomplete run merges what it saw but removes nothing", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    // One customer is absent and another is served twice: totalCount stays 25 but only 24 distinct ids arrive.
    const [absent, ...rest] = customers;
    if (!absent) throw new Error("unreachable");
    const changed = edit(rest, 0, { jobStatus: sampleCustomers()[1]?.jobStatus === 4 ? 5 : 4 });
    await h.serve([...rest, rest[5]]);

    const run = await syncOk(h);
    expect(run).toMatchObject({
      complete: false,
      incompleteReason: "saw 24 of 25 customers",
      customersRemoved: 0,
      statusChanges: 1,
    });
    expect(await openPeriod(h.db, absent.id)).toMatchObject({ removed: false });
    expect(await openPeriod(h.db, changed.id)).toMatchObject({ job_status: changed.jobStatus });
    const [row] = await h.db.query(
      "SELECT complete, incomplete_reason FROM sync_runs WHERE id = $1",
      [run.runId],
    );
    expect(row).toEqual({ complete: false, incomplete_reason: "saw 24 of 25 customers" });
  });

  it("a failed run changes nothing but its own sync_runs row", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    const before = await snapshotData(h.db);
    edit(customers, 1, { jobStatus: 6 });
    await h.serve(customers.slice(1));
    h.simulator.injectFault({ status: 403, onPage: 3 });

    const run = failed(await h.sync());
    expect(run.error).toContain("elements.customers.read.all");
    // 403 is not retried: page 3 was asked for once in each run.
    expect(h.simulator.requests.filter((r) => r.pageIndex === 3).map((r) => r.status)).toEqual([
      200, 403,
    ]);
    expect(await snapshotData(h.db)).toEqual(before);
    const [row] = await h.db.query(
      "SELECT status, pages_fetched, error IS NOT NULL AS has_error FROM sync_runs WHERE id = $1",
      [run.runId],
    );
    if (concurrency === 1) {
      expect(row).toEqual({ status: "failed", pages_fetched: 2, has_error: true });
      expect(run).toMatchObject({ customersSeen: 20, pagesFetched: 2 });
    } else {
      // Page 2 was in flight with page 3, and the 403 may have stopped it: either way the
      // record says what was fetched and staged before the failure.
      expect(row).toMatchObject({ status: "failed", has_error: true });
      expect([1, 2]).toContain(run.pagesFetched);
      expect(run.customersSeen).toBe(run.pagesFetched * 10);
    }
    await expectInvariants(h.db);
  });

  it("plans pages with the size the API serves when it caps the page size", async () => {
    const harness = await openHarness({
      concurrency,
      customers: sampleCustomers(25),
      pageSize: 10,
      simulator: { servedPageSize: 4 },
    });
    const run = await syncOk(harness);
    expect(run).toMatchObject({ complete: true, customersSeen: 25, pagesFetched: 7 });
  });

  it.each([
    [400, /rejected the request as invalid \(400\)/],
    [404, /no such endpoint \(404\); check ELEMENTS_REGION or ELEMENTS_API_URL/],
  ])("fails at once on %i with a clear message", async (status, message) => {
    const h = await start();
    h.simulator.injectFault({ status, onPage: 1 });
    const run = await h.sync();
    expect(failed(run).error).toMatch(message);
    expect(h.simulator.requests.filter((r) => r.pageIndex === 1)).toHaveLength(1);
  });

  it("keeps a removed customer's single removed period across later complete runs", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    await h.serve(customers.slice(1));
    await syncOk(h);
    const periods = () =>
      h.db.query(
        "SELECT id, removed, valid_to FROM customer_status_history WHERE customer_id = $1 ORDER BY id",
        [customers[0]?.id],
      );
    const afterRemoval = await periods();
    const third = await syncOk(h);
    expect(third).toMatchObject({ customersRemoved: 0, complete: true });
    expect(await periods()).toEqual(afterRemoval);
  });

  it("restores a customer seen again in an incomplete run", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    const [back, absent] = customers;
    if (!back || !absent) throw new Error("unreachable");
    await h.serve(customers.slice(1));
    await syncOk(h);
    // Incomplete (the other customer is missing from a list whose total still counts it).
    await h.serve([...customers.filter((c) => c !== absent), customers[3]]);
    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: false, customersRestored: 1, customersRemoved: 0 });
    expect(await openPeriod(h.db, back.id)).toMatchObject({
      removed: false,
      opened_by_run_id: run.runId,
    });
    expect(await openPeriod(h.db, absent.id)).toMatchObject({ removed: false });
  });

  it("removes and restores a tenant while its customer stays present", async () => {
    const customers = sampleCustomers();
    const h = await start(customers);
    await syncOk(h);
    const owner = customers.find((c) => c.tenants.length > 0);
    const tenant = owner?.tenants[0];
    if (!owner || !tenant) throw new Error("sample has no tenant");
    const tenantState = async () =>
      (
        await h.db.query<{ removed: boolean }>(
          "SELECT removed_at IS NOT NULL AS removed FROM tenants WHERE customer_id = $1 AND id = $2",
          [owner.id, tenant.id],
        )
      )[0];
    const withoutTenant = structuredClone(customers);
    const ownerCopy = withoutTenant.find((c) => c.id === owner.id);
    if (ownerCopy) ownerCopy.tenants = ownerCopy.tenants.slice(1);
    await h.serve(withoutTenant);
    const removal = await syncOk(h);
    expect(removal.statusChanges).toBe(0);
    expect(await tenantState()).toEqual({ removed: true });
    await h.serve(customers);
    await syncOk(h);
    expect(await tenantState()).toEqual({ removed: false });
    expect(await openPeriod(h.db, owner.id)).toMatchObject({ removed: false });
  });

  it("keeps the last copy of a customer served on two pages, tenants included", async () => {
    const customers = sampleCustomers(12);
    const h = await start(customers, 5);
    const first = customers[0];
    if (!first) throw new Error("unreachable");
    // Page 1 has the first copy; the last page has a later copy with another status and tenant list.
    const later = {
      ...first,
      jobStatus: first.jobStatus === 6 ? 5 : 6,
      tenants: [{ id: "only-tenant", name: "only" }],
    };
    await h.serve([...customers.slice(0, 10), later, ...customers.slice(10)]);
    const run = await syncOk(h);
    expect(run).toMatchObject({
      customersSeen: 12,
      complete: false,
      incompleteReason: "saw 12 of 13 customers",
    });
    const [stored] = await h.db.query("SELECT job_status FROM customers WHERE id = $1", [first.id]);
    expect(stored).toEqual({ job_status: later.jobStatus });
    const tenants = await h.db.query("SELECT id FROM tenants WHERE customer_id = $1", [first.id]);
    expect(tenants).toEqual([{ id: "only-tenant" }]);
  });

  it("orders runs after earlier ones even when the clock says otherwise", async () => {
    const h = await start();
    const [future] = await h.db.query<{ started_at: Date }>(
      `INSERT INTO sync_runs (started_at, finished_at, status, error)
       VALUES (now() + interval '1 hour', now() + interval '1 hour', 'failed', 'test')
       RETURNING started_at`,
    );
    const run = await syncOk(h);
    const [row] = await h.db.query<{ started_at: Date }>(
      "SELECT started_at FROM sync_runs WHERE id = $1",
      [run.runId],
    );
    expect(row?.started_at.getTime()).toBe((future?.started_at.getTime() ?? 0) + 1);
  });
});
