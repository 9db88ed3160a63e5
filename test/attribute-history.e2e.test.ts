// Every attribute has exact history (issue 17): customer_history and tenant_history keep
// a period per state, reporting.attribute_changes lists each change attribute by
// attribute, and reporting.customers_at / tenants_at give the state at any instant.
// Real syncs against the simulator; syncOk checks every history invariant after each run.
import { describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import type { TestDatabase } from "./support/database.ts";
import { newCustomers, openHarness, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { HOUR, moveRun, utcDaysAgo } from "./support/reporting-scenario.ts";
import { syncOk, type SucceededRun } from "./support/runs.ts";

function start(customers: SimulatedCustomer[]): Promise<Harness> {
  return openHarness({ customers });
}

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item ${index}`);
  return item;
}

interface Change {
  run_id: number;
  entity: string;
  customer_id: string;
  tenant_id: string | null;
  field: string;
  old_value: string | null;
  new_value: string | null;
}

/** attribute_changes of the given runs, in a stable order. */
async function changesOf(db: TestDatabase, runIds: number[]): Promise<Change[]> {
  return db.query<Change>(
    `SELECT run_id, entity, customer_id, tenant_id, field, old_value, new_value
     FROM reporting.attribute_changes WHERE run_id = ANY($1::int[])
     ORDER BY run_id, entity, customer_id, tenant_id NULLS FIRST, field`,
    [runIds],
  );
}

async function customerPeriods(db: TestDatabase, customerId: string) {
  return db.query(
    `SELECT organization, owner_email, country_or_region, job_status, management_mode, removed,
            opened_by_run_id, closed_by_run_id
     FROM customer_history WHERE customer_id = $1 ORDER BY valid_from`,
    [customerId],
  );
}

async function tenantPeriods(db: TestDatabase, customerId: string, tenantId: string) {
  return db.query(
    `SELECT name, removed, opened_by_run_id, closed_by_run_id
     FROM tenant_history WHERE customer_id = $1 AND tenant_id = $2 ORDER BY valid_from`,
    [customerId, tenantId],
  );
}

const byField = (a: Change, b: Change) =>
  a.customer_id.localeCompare(b.customer_id) || a.field.localeCompare(b.field);

describe("customer_history", () => {
  it("records each attribute's change in a period of its own, and attribute_changes names it", async () => {
    const customers = newCustomers(6, 5, "attr");
    const h = await start(customers);
    const first = await syncOk(h);
    const before = structuredClone(customers);
    const [org, email, country, status, mode, untouched] = customers;
    if (!org || !email || !country || !status || !mode || !untouched)
      throw new Error("unreachable");
    org.organization = "Renamed Org";
    email.ownerEmail = "new-owner@example.com";
    country.countryOrRegion = country.countryOrRegion === "DE" ? "FR" : "DE";
    status.jobStatus = status.jobStatus === 2 ? 1 : 2;
    mode.managementMode = (mode.managementMode + 1) % 3;
    await h.serve(customers);

    const second = await syncOk(h);
    // The status history sees two of the five changes, as it always did.
    expect(second.statusChanges).toBe(2);
    const expected: Change[] = [
      [org, "organization", at(before, 0).organization, org.organization],
      [email, "owner_email", at(before, 1).ownerEmail, email.ownerEmail],
      [country, "country_or_region", at(before, 2).countryOrRegion, country.countryOrRegion],
      [status, "job_status", String(at(before, 3).jobStatus), String(status.jobStatus)],
      [mode, "management_mode", String(at(before, 4).managementMode), String(mode.managementMode)],
    ].map(([customer, field, oldValue, newValue]) => ({
      run_id: second.runId,
      entity: "customer",
      customer_id: (customer as SimulatedCustomer).id,
      tenant_id: null,
      field: field as string,
      old_value: oldValue as string,
      new_value: newValue as string,
    }));
    expect(await changesOf(h.db, [second.runId])).toEqual(expected.sort(byField));

    // One period per state: the first one closed by the second run, the new one open.
    expect(await customerPeriods(h.db, org.id)).toEqual([
      expect.objectContaining({
        organization: at(before, 0).organization,
        opened_by_run_id: first.runId,
        closed_by_run_id: second.runId,
      }),
      expect.objectContaining({
        organization: "Renamed Org",
        removed: false,
        opened_by_run_id: second.runId,
        closed_by_run_id: null,
      }),
    ]);
    expect(await customerPeriods(h.db, untouched.id)).toHaveLength(1);
    const statusPeriods = await h.db.query<{ customer_id: string; n: number }>(
      `SELECT customer_id, count(*)::int AS n FROM customer_status_history
       GROUP BY customer_id HAVING count(*) > 1 ORDER BY customer_id`,
    );
    expect(statusPeriods).toEqual(
      [status.id, mode.id].sort().map((id) => ({ customer_id: id, n: 2 })),
    );
  });

  it("keeps both changes of a customer that changes twice in one day", async () => {
    const customers = newCustomers(3, 6, "twice");
    const h = await start(customers);
    // The runs are moved to yesterday, 09:00 and 18:00 UTC, after a first run the day before.
    const yesterday = await utcDaysAgo(h.db, 1);
    const first = await syncOk(h);
    await moveRun(h.db, first.runId, new Date(yesterday.getTime() - 12 * HOUR));
    const customer = at(customers, 0);
    const original = { email: customer.ownerEmail, status: customer.jobStatus };
    customer.ownerEmail = "morning@example.com";
    await h.serve(customers);
    const morning = await syncOk(h);
    await moveRun(h.db, morning.runId, new Date(yesterday.getTime() + 9 * HOUR));
    customer.ownerEmail = "evening@example.com";
    customer.jobStatus = customer.jobStatus === 2 ? 1 : 2;
    await h.serve(customers);
    const evening = await syncOk(h);
    await moveRun(h.db, evening.runId, new Date(yesterday.getTime() + 18 * HOUR));
    await expectInvariants(h.db);

    expect(await customerPeriods(h.db, customer.id)).toEqual([
      expect.objectContaining({ owner_email: original.email, closed_by_run_id: morning.runId }),
      expect.objectContaining({
        owner_email: "morning@example.com",
        opened_by_run_id: morning.runId,
        closed_by_run_id: evening.runId,
      }),
      expect.objectContaining({
        owner_email: "evening@example.com",
        job_status: customer.jobStatus,
        opened_by_run_id: evening.runId,
        closed_by_run_id: null,
      }),
    ]);
    const changes = await h.db.query(
      `SELECT to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS at, field,
              old_value, new_value
       FROM reporting.attribute_changes WHERE run_id = ANY($1::int[]) ORDER BY changed_at, field`,
      [[morning.runId, evening.runId]],
    );
    const day = yesterday.toISOString().slice(0, 10);
    expect(changes).toEqual([
      {
        at: `${day} 09:00`,
        field: "owner_email",
        old_value: original.email,
        new_value: "morning@example.com",
      },
      {
        at: `${day} 18:00`,
        field: "job_status",
        old_value: String(original.status),
        new_value: String(customer.jobStatus),
      },
      {
        at: `${day} 18:00`,
        field: "owner_email",
        old_value: "morning@example.com",
        new_value: "evening@example.com",
      },
    ]);
  });

  it("records a customer's first sighting, removal and return as presence, its tenants' too", async () => {
    const customers = newCustomers(5, 7, "presence");
    const gone = at(customers, 0);
    gone.tenants = [{ id: "gone-tenant", name: "gone-tenant.example" }];
    const h = await start(customers);
    const first = await syncOk(h);
    await h.serve(customers.slice(1));
    const removal = await syncOk(h);
    gone.organization = "Back Under Another Name";
    await h.serve(customers);
    const back = await syncOk(h);

    expect([removal.customersRemoved, back.customersRestored]).toEqual([1, 1]);
    const firstSighting = await h.db.query(
      `SELECT field, old_value, new_value FROM reporting.attribute_changes
       WHERE run_id = $1 AND customer_id = $2 ORDER BY entity`,
      [first.runId, gone.id],
    );
    expect(firstSighting).toEqual([
      { field: "presence", old_value: null, new_value: "present" },
      { field: "presence", old_value: null, new_value: "present" },
    ]);
    const changes = await changesOf(h.db, [removal.runId, back.runId]);
    const own = (
      entity: string,
      field: string,
      oldValue: string,
      newValue: string,
      run: number,
    ) => ({
      run_id: run,
      entity,
      customer_id: gone.id,
      tenant_id: entity === "tenant" ? "gone-tenant" : null,
      field,
      old_value: oldValue,
      new_value: newValue,
    });
    expect(changes).toEqual([
      own("customer", "presence", "present", "removed", removal.runId),
      own("tenant", "presence", "present", "removed", removal.runId),
      own(
        "customer",
        "organization",
        at(newCustomers(5, 7, "presence"), 0).organization,
        "Back Under Another Name",
        back.runId,
      ),
      own("customer", "presence", "removed", "present", back.runId),
      own("tenant", "presence", "removed", "present", back.runId),
    ]);
    // While removed, the customer keeps its last known attributes.
    expect((await customerPeriods(h.db, gone.id)).map((p) => [p.removed, p.organization])).toEqual([
      [false, at(newCustomers(5, 7, "presence"), 0).organization],
      [true, at(newCustomers(5, 7, "presence"), 0).organization],
      [false, "Back Under Another Name"],
    ]);
  });

  it("writes no history row on an unchanged re-run", async () => {
    const h = await start(newCustomers(12, 8, "same"));
    await syncOk(h);
    const history = async () => ({
      customers: await h.db.query("SELECT * FROM customer_history ORDER BY id"),
      tenants: await h.db.query("SELECT * FROM tenant_history ORDER BY id"),
      // xmin changes with every write, even one that writes the same values.
      versions: await h.db.query(
        `SELECT xmin::text FROM customer_history UNION ALL SELECT xmin::text FROM tenant_history`,
      ),
    });
    const before = await history();
    await syncOk(h);
    expect(await history()).toEqual(before);
  });
});

describe("tenant_history", () => {
  it("follows a tenant added to an existing customer, renamed, removed and restored", async () => {
    const customers = newCustomers(4, 9, "tenant");
    const owner = at(customers, 1);
    const h = await start(customers);
    await syncOk(h);
    const runs: SucceededRun[] = [];
    const serveTenants = async (tenants: SimulatedCustomer["tenants"]) => {
      owner.tenants = tenants;
      await h.serve(customers);
      runs.push(await syncOk(h));
    };
    const kept = owner.tenants;
    await serveTenants([...kept, { id: "t-new", name: "first-name" }]);
    await serveTenants([...kept, { id: "t-new", name: "second-name" }]);
    await serveTenants(kept);
    await serveTenants([...kept, { id: "t-new", name: "second-name" }]);
    const [added, renamed, removed, restored] = runs.map((run) => run.runId);

    expect(await tenantPeriods(h.db, owner.id, "t-new")).toEqual([
      { name: "first-name", removed: false, opened_by_run_id: added, closed_by_run_id: renamed },
      { name: "second-name", removed: false, opened_by_run_id: renamed, closed_by_run_id: removed },
      { name: "second-name", removed: true, opened_by_run_id: removed, closed_by_run_id: restored },
      { name: "second-name", removed: false, opened_by_run_id: restored, closed_by_run_id: null },
    ]);
    const changes = await changesOf(
      h.db,
      runs.map((run) => run.runId),
    );
    expect(
      changes.map((c) => [
        c.run_id,
        c.entity,
        c.customer_id,
        c.tenant_id,
        c.field,
        c.old_value,
        c.new_value,
      ]),
    ).toEqual([
      [added, "tenant", owner.id, "t-new", "presence", null, "present"],
      [renamed, "tenant", owner.id, "t-new", "name", "first-name", "second-name"],
      [removed, "tenant", owner.id, "t-new", "presence", "present", "removed"],
      [restored, "tenant", owner.id, "t-new", "presence", "removed", "present"],
    ]);
    // The customer itself did not change.
    expect(await customerPeriods(h.db, owner.id)).toHaveLength(1);
  });
});

describe("customers_at and tenants_at", () => {
  it("give, at any instant, what reporting.customers and reporting.tenants said then", async () => {
    const customers = newCustomers(8, 10, "when");
    const h = await start(customers);
    const CUSTOMER_COLUMNS = `customer_id, organization, owner_email, country_or_region, job_status,
      job_status_label, management_mode, management_mode_label, tenant_count, first_seen_at`;
    const TENANT_COLUMNS = "customer_id, organization, tenant_id, tenant_name, first_seen_at";
    const snapshots: { run: SucceededRun; customers: unknown[]; tenants: unknown[] }[] = [];
    const runAndSnapshot = async () => {
      const run = await syncOk(h);
      snapshots.push({
        run,
        customers: await h.db.query(
          `SELECT ${CUSTOMER_COLUMNS} FROM reporting.customers WHERE NOT removed ORDER BY customer_id`,
        ),
        tenants: await h.db.query(
          `SELECT ${TENANT_COLUMNS} FROM reporting.tenants WHERE NOT removed ORDER BY customer_id, tenant_id`,
        ),
      });
    };
    await runAndSnapshot();
    // Run 2: a rename, a status change, a tenant renamed and one added, a customer removed.
    at(customers, 0).organization = "Zeta";
    at(customers, 1).jobStatus = at(customers, 1).jobStatus === 2 ? 1 : 2;
    at(customers, 2).tenants = [
      ...at(customers, 2).tenants.map((t) => ({ ...t, name: `${t.name}-renamed` })),
      { id: "late", name: "late.example" },
    ];
    await h.serve(customers.filter((_, i) => i !== 3));
    await runAndSnapshot();
    // Run 3: the removed customer is back, one status changes back, a tenant goes.
    at(customers, 1).jobStatus = at(newCustomers(8, 10, "when"), 1).jobStatus;
    at(customers, 2).tenants = at(customers, 2).tenants.slice(1);
    await h.serve(customers);
    await runAndSnapshot();

    for (const [index, { run, customers: then, tenants }] of snapshots.entries()) {
      const [instants] = await h.db.query<{ start: Date; before_next: Date | null }>(
        `SELECT started_at AS start,
                (SELECT min(started_at) FROM sync_runs WHERE id > $1) - interval '1 microsecond' AS before_next
         FROM sync_runs WHERE id = $1`,
        [run.runId],
      );
      for (const instant of [instants?.start, instants?.before_next ?? new Date()]) {
        const label = { run: index + 1, at: instant };
        expect({
          ...label,
          rows: await h.db.query(
            `SELECT ${CUSTOMER_COLUMNS} FROM reporting.customers_at($1) ORDER BY customer_id`,
            [instant],
          ),
        }).toEqual({ ...label, rows: then });
        expect({
          ...label,
          rows: await h.db.query(
            `SELECT ${TENANT_COLUMNS} FROM reporting.tenants_at($1) ORDER BY customer_id, tenant_id`,
            [instant],
          ),
        }).toEqual({ ...label, rows: tenants });
      }
    }
    // The snapshots differ from run to run, so each comparison above tells them apart.
    expect(new Set(snapshots.map((s) => JSON.stringify(s.customers))).size).toBe(3);
    expect(new Set(snapshots.map((s) => JSON.stringify(s.tenants))).size).toBe(3);
    // Before the first run nothing was present.
    const [beforeFirst] = await h.db.query<{ customers: number; tenants: number }>(
      `SELECT (SELECT count(*)::int FROM reporting.customers_at(r.started_at - interval '1 second')) AS customers,
              (SELECT count(*)::int FROM reporting.tenants_at(r.started_at - interval '1 second')) AS tenants
       FROM sync_runs r WHERE r.id = $1`,
      [at(snapshots, 0).run.runId],
    );
    expect(beforeFirst).toEqual({ customers: 0, tenants: 0 });
  });
});
