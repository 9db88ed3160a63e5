// An existing database upgrades in place: the attribute_history migration fills
// customer_history and tenant_history from what the database knows (customer_status_history,
// tenants), so every invariant holds at once and after the next run, leaves
// customer_status_history as it was, and lets roles that read the reporting views call the
// new functions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { connectAs } from "./support/database.ts";
import { createHarness, newCustomers, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { harnessBeforeUpgrade, upgrade, READER_PASSWORD } from "./support/migrations.ts";
import { succeeded, syncOk, type SucceededRun } from "./support/runs.ts";

const UPGRADE = "20261201090000_attribute_history";
const READER = `es_history_reader_${Math.random().toString(16).slice(2, 10)}`;

/** Where the runs before the upgrade happen: this version's code and schema. */
let source: Harness;
/** The database upgraded: migrated up to the migration before UPGRADE, holding source's data. */
let h: Harness;
const customers: SimulatedCustomer[] = newCustomers(8, 21, "upgrade");
const original = structuredClone(customers);
const runs: SucceededRun[] = [];
let statusHistoryBefore: unknown[];

function pick(index: number): SimulatedCustomer {
  const customer = customers[index];
  if (!customer) throw new Error(`no customer ${index}`);
  return customer;
}

const statusHistory = () => h.db.query("SELECT * FROM customer_status_history ORDER BY id");

async function runBeforeUpgrade(served: SimulatedCustomer[]): Promise<void> {
  await source.serve(served);
  runs.push(succeeded(await source.sync()));
}

/**
 * This version's merge writes the new histories, so it cannot sync into a database without
 * them. The runs happen in `source`; what an earlier version kept (runs, customers, tenants,
 * status history, which this version's merge writes as that one did) is copied over.
 */
async function copyRunsToUpgradedDatabase(): Promise<void> {
  for (const table of ["sync_runs", "customers", "tenants", "customer_status_history"]) {
    const rows = await source.db.query(`SELECT * FROM ${table} ORDER BY 1`);
    await h.db.query(
      `INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`,
      [JSON.stringify(rows)],
    );
  }
  await h.db.query(
    `SELECT setval(pg_get_serial_sequence('sync_runs', 'id'), (SELECT max(id) FROM sync_runs)),
            setval(pg_get_serial_sequence('customer_status_history', 'id'),
                   (SELECT max(id) FROM customer_status_history))`,
  );
}

beforeAll(async () => {
  source = await createHarness({ customers });
  h = await harnessBeforeUpgrade(UPGRADE, READER, { customers });
  // A reader of the reporting views, granted by hand (bi-access does the same and more).
  await h.db.query(`GRANT SELECT ON reporting.customers TO ${READER}`);

  await runBeforeUpgrade(customers);
  // Run 2: a status change, a rename, a customer and a tenant removed, a tenant renamed.
  pick(0).jobStatus = pick(0).jobStatus === 2 ? 1 : 2;
  pick(1).organization = "Renamed Before The Upgrade";
  pick(2).tenants = pick(2).tenants.slice(1);
  pick(3).tenants = pick(3).tenants.map((t) => ({ ...t, name: `${t.name}-renamed` }));
  await runBeforeUpgrade(customers.filter((_, i) => i !== 4));
  // Run 3: the customer is back; another one goes and stays gone; the tenant stays gone.
  await runBeforeUpgrade(customers.filter((_, i) => i !== 5));
  await copyRunsToUpgradedDatabase();
  await source.close();
  statusHistoryBefore = await statusHistory();
});

afterAll(async () => {
  await h.close();
});

describe(`migration ${UPGRADE} on a database with history`, () => {
  it("fills the new histories so that every invariant holds, status history untouched", async () => {
    const applied = await upgrade(h);
    // The upgrade first, then whatever later migrations exist.
    expect(applied.applied[0]).toBe(UPGRADE);
    expect(applied.applied.slice(1).every((name) => name > UPGRADE)).toBe(true);
    await expectInvariants(h.db);
    expect(await statusHistory()).toEqual(statusHistoryBefore);

    // A customer's periods are its status periods, with its current other attributes.
    const mismatched = await h.db.query(
      `SELECT s.id FROM customer_status_history s
       JOIN customers c ON c.id = s.customer_id
       LEFT JOIN customer_history h
         ON h.customer_id = s.customer_id AND h.valid_from = s.valid_from
        AND h.valid_to IS NOT DISTINCT FROM s.valid_to
        AND (h.job_status, h.management_mode, h.removed, h.opened_by_run_id, h.closed_by_run_id)
            IS NOT DISTINCT FROM (s.job_status, s.management_mode, s.removed, s.opened_by_run_id, s.closed_by_run_id)
        AND (h.organization, h.owner_email, h.country_or_region)
            IS NOT DISTINCT FROM (c.organization, c.owner_email, c.country_or_region)
       WHERE h.id IS NULL`,
    );
    expect(mismatched).toEqual([]);
    const [counts] = await h.db.query<{ status: number; customer: number }>(
      `SELECT (SELECT count(*)::int FROM customer_status_history) AS status,
              (SELECT count(*)::int FROM customer_history) AS customer`,
    );
    expect(counts?.customer).toBe(counts?.status);

    // The removed customer's removal and return, from the status history.
    const [first, second, third] = runs.map((run) => run.runId);
    const presence = await h.db.query(
      `SELECT run_id, old_value, new_value FROM reporting.attribute_changes
       WHERE entity = 'customer' AND customer_id = $1 AND field = 'presence' ORDER BY run_id`,
      [pick(4).id],
    );
    expect(presence).toEqual([
      { run_id: first, old_value: null, new_value: "present" },
      { run_id: second, old_value: "present", new_value: "removed" },
      { run_id: third, old_value: "removed", new_value: "present" },
    ]);
    // What was not recorded before: the rename shows as the current name throughout.
    const renamed = await h.db.query(
      "SELECT organization FROM customer_history WHERE customer_id = $1",
      [pick(1).id],
    );
    expect(renamed).toEqual([{ organization: "Renamed Before The Upgrade" }]);
  });

  it("gives a removed tenant a present period and a removed one; others one period", async () => {
    const gone = original[2]?.tenants[0];
    if (!gone) throw new Error("unreachable");
    const [first, second] = runs.map((run) => run.runId);
    expect(
      await h.db.query(
        `SELECT name, removed, opened_by_run_id, closed_by_run_id FROM tenant_history
         WHERE customer_id = $1 AND tenant_id = $2 ORDER BY valid_from`,
        [pick(2).id, gone.id],
      ),
    ).toEqual([
      { name: gone.name, removed: false, opened_by_run_id: first, closed_by_run_id: second },
      { name: gone.name, removed: true, opened_by_run_id: second, closed_by_run_id: null },
    ]);
    // The removed customer's tenants were removed with it and restored: known only as present.
    const periods = await h.db.query<{ tenant_id: string; n: number }>(
      `SELECT tenant_id, count(*)::int AS n FROM tenant_history WHERE customer_id = ANY($1)
       GROUP BY tenant_id HAVING count(*) <> 1`,
      [[pick(3).id, pick(4).id]],
    );
    expect(periods).toEqual([]);
  });

  it("answers customers_at with each run's statuses, as customer_status_at_run does", async () => {
    for (const run of runs) {
      const [diff] = await h.db.query<{ missing: number; extra: number }>(
        `WITH at_run AS (
           SELECT customer_id, job_status, management_mode FROM reporting.customer_status_at_run
           WHERE run_id = $1),
         at_instant AS (
           SELECT customer_id, job_status, management_mode
           FROM reporting.customers_at((SELECT started_at FROM sync_runs WHERE id = $1)))
         SELECT (SELECT count(*)::int FROM (SELECT * FROM at_run EXCEPT SELECT * FROM at_instant) x) AS missing,
                (SELECT count(*)::int FROM (SELECT * FROM at_instant EXCEPT SELECT * FROM at_run) x) AS extra`,
        [run.runId],
      );
      expect({ run: run.runId, ...diff }).toEqual({ run: run.runId, missing: 0, extra: 0 });
    }
  });

  it("lets a role that read the reporting views call the new functions", async () => {
    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    try {
      const { rows } = await reader.query<{ customers: number; tenants: number }>(
        `SELECT (SELECT count(*)::int FROM reporting.customers_at(now())) AS customers,
                (SELECT count(*)::int FROM reporting.tenants_at(now())) AS tenants`,
      );
      const present = customers.filter((_, i) => i !== 5);
      expect(rows).toEqual([
        {
          customers: present.length,
          tenants: present.reduce((sum, c) => sum + c.tenants.length, 0),
        },
      ]);
    } finally {
      await reader.end();
    }
  });

  it("keeps the invariants on the next run, which records what changes from then on", async () => {
    pick(6).ownerEmail = "after-upgrade@example.com";
    const tenant = pick(7).tenants[0];
    if (!tenant) throw new Error("the sample customer has no tenant");
    tenant.name = "renamed-after-upgrade";
    await h.serve(customers);
    const next = await syncOk(h);
    expect(next.customersRestored).toBe(1);
    const changes = await h.db.query(
      `SELECT entity, customer_id, tenant_id, field, old_value, new_value
       FROM reporting.attribute_changes WHERE run_id = $1
       ORDER BY entity, customer_id, tenant_id NULLS FIRST, field`,
      [next.runId],
    );
    expect(changes).toEqual([
      {
        entity: "customer",
        customer_id: pick(5).id,
        tenant_id: null,
        field: "presence",
        old_value: "removed",
        new_value: "present",
      },
      {
        entity: "customer",
        customer_id: pick(6).id,
        tenant_id: null,
        field: "owner_email",
        old_value: original[6]?.ownerEmail,
        new_value: "after-upgrade@example.com",
      },
      ...pick(5)
        .tenants.toSorted((a, b) => (a.id < b.id ? -1 : 1))
        .map((t) => ({
          entity: "tenant",
          customer_id: pick(5).id,
          tenant_id: t.id,
          field: "presence",
          old_value: "removed",
          new_value: "present",
        })),
      {
        entity: "tenant",
        customer_id: pick(7).id,
        tenant_id: tenant.id,
        field: "name",
        old_value: original[7]?.tenants[0]?.name,
        new_value: "renamed-after-upgrade",
      },
    ]);
    // The status history only gained the restored customer's period.
    const added = (await statusHistory()).length - statusHistoryBefore.length;
    expect(added).toBe(1);
  });
});
