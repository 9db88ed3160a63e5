// Every kind of change reaches the user without SQL (issue 25): between syncs the source
// changes each attribute, tenants and customers; the run's summary counts each kind, and
// `report changes` lists each one, filtered by kind, by customer, and without first sightings.
import { expect, it } from "vitest";
import { formatRunSummary } from "../src/cli/summary.ts";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import type { RunSummary } from "../src/sync/sync.ts";
import { runCli } from "./support/cli.ts";
import { newCustomers, openHarness, sampleCustomers, type Harness } from "./support/harness.ts";

/** Customer `index` of `customers`, which the test knows is there. */
function at(customers: SimulatedCustomer[], index: number): SimulatedCustomer {
  const customer = customers[index];
  if (!customer) throw new Error(`no customer ${index}`);
  return customer;
}

function succeeded(summary: RunSummary): Extract<RunSummary, { status: "succeeded" }> {
  if (summary.status !== "succeeded") throw new Error(`run failed: ${summary.error}`);
  return summary;
}

/** The run's changes by kind as reporting.attribute_changes holds them: what BI tools count. */
async function viewCounts(h: Harness, runId: number) {
  const [row] = await h.db.query(
    `SELECT
       count(*) FILTER (WHERE entity = 'customer' AND field = 'job_status')::int AS "jobStatus",
       count(*) FILTER (WHERE entity = 'customer' AND field = 'management_mode')::int AS "managementMode",
       count(*) FILTER (WHERE entity = 'customer' AND field = 'owner_email')::int AS "ownerEmail",
       count(*) FILTER (WHERE entity = 'customer' AND field = 'organization')::int AS organization,
       count(*) FILTER (WHERE entity = 'customer' AND field = 'country_or_region')::int AS "countryOrRegion",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'presence' AND old_value IS NULL)::int AS "tenantsAdded",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'name')::int AS "tenantsRenamed",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'presence' AND new_value = 'removed')::int AS "tenantsRemoved",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'presence' AND old_value = 'removed')::int AS "tenantsRestored"
     FROM reporting.attribute_changes WHERE run_id = $1`,
    [runId],
  );
  return row;
}

it("counts each kind of change in the summary and lists each in report changes", async () => {
  // Ten customers, so removing one stays under the mass-removal guard; every one with tenants.
  const customers = sampleCustomers(10, 3).map((customer, i) => ({
    ...customer,
    tenants: [
      { id: `00000000-0000-4000-8000-0000000000${String(i).padStart(2, "0")}`, name: `t${i}` },
    ],
  }));
  const h = await openHarness({ customers });
  const first = succeeded(await h.sync());
  expect(first.changes).toEqual({
    jobStatus: 0,
    managementMode: 0,
    ownerEmail: 0,
    organization: 0,
    countryOrRegion: 0,
    tenantsAdded: 10,
    tenantsRenamed: 0,
    tenantsRemoved: 0,
    tenantsRestored: 0,
  });

  const next = structuredClone(customers);
  at(next, 0).jobStatus = at(next, 0).jobStatus === 2 ? 3 : 2;
  at(next, 1).managementMode = (at(next, 1).managementMode + 1) % 3;
  at(next, 2).ownerEmail = "new-owner@example.com";
  at(next, 3).organization = "Renamed Org";
  at(next, 4).countryOrRegion = at(next, 4).countryOrRegion === "DE" ? "FR" : "DE";
  const renamed = at(next, 5).tenants[0];
  if (!renamed) throw new Error("unreachable");
  renamed.name = "t5-renamed";
  at(next, 6).tenants.push({ id: "c0ffee00-0000-4000-8000-000000000001", name: "t6-new" });
  at(next, 7).tenants = [];
  const gone = next.splice(9, 1);
  const [added] = newCustomers(1, 5, "added");
  if (!added) throw new Error("unreachable");
  next.push(added);
  await h.serve(next);
  const second = succeeded(await h.sync());
  expect(second).toMatchObject({ customersAdded: 1, customersRemoved: 1, customersRestored: 0 });
  expect(second.changes).toEqual({
    jobStatus: 1,
    managementMode: 1,
    ownerEmail: 1,
    organization: 1,
    countryOrRegion: 1,
    // The new tenant, and the new customer's own.
    tenantsAdded: 1 + added.tenants.length,
    tenantsRenamed: 1,
    // Customer 7's tenant, and the removed customer's.
    tenantsRemoved: 2,
    tenantsRestored: 0,
  });
  expect(formatRunSummary(second).split("\n").slice(1)).toEqual([
    "  customers: 1 added, 1 removed, 0 restored",
    "  changed:   1 job status, 1 management mode, 1 owner email, 1 organization, 1 country or region",
    `  tenants:   ${1 + added.tenants.length} added, 1 renamed, 2 removed, 0 restored`,
  ]);
  // Counts by kind that could not be read after the commit: the run's own count instead.
  expect(
    formatRunSummary({ ...second, changes: null })
      .split("\n")
      .slice(1),
  ).toEqual([
    "  customers: 1 added, 1 removed, 0 restored",
    `  changed:   ${second.statusChanges} job status or management mode (by kind: not read, see the log)`,
  ]);
  expect(second.statusChanges).toBe(2);
  // The log line has the counts too.
  const logged = h.logs.filter((line) => line.msg === "sync run succeeded").at(-1);
  expect(logged?.changes).toEqual(second.changes);

  // The removed customer comes back: restored, with its tenant.
  await h.serve([...next, ...gone]);
  const third = succeeded(await h.sync());
  expect(third).toMatchObject({ customersRestored: 1 });
  expect(third.changes).toMatchObject({ tenantsRestored: 1, tenantsAdded: 0, jobStatus: 0 });
  // The summary counts what reporting.attribute_changes holds, run by run.
  for (const run of [first, second, third]) {
    expect(run.changes).toEqual(await viewCounts(h, run.runId));
  }

  const env = { DATABASE_URL: h.db.url };
  const report = async (...args: string[]) => {
    const result = await runCli(["report", "changes", "--format", "json", ...args], env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>[];
  };
  const kinds = (rows: Record<string, unknown>[]) =>
    rows
      .map((row) => `${String(row.run_id)} ${String(row.kind)} ${String(row.customer_id)}`)
      .sort();

  // Every change, first sightings included: 10 customers and 10 tenants first seen by run 1.
  const all = await report();
  expect(all.filter((row) => row.run_id === first.runId)).toHaveLength(20);

  // Without first sightings: what changed after each customer's first run, codes as labels.
  const changed = await report("--no-first-seen");
  expect(kinds(changed)).toEqual(
    [
      `${second.runId} status ${at(next, 0).id}`,
      `${second.runId} mode ${at(next, 1).id}`,
      `${second.runId} owner ${at(next, 2).id}`,
      `${second.runId} organization ${at(next, 3).id}`,
      `${second.runId} country ${at(next, 4).id}`,
      `${second.runId} tenant renamed ${at(next, 5).id}`,
      `${second.runId} tenant added ${at(next, 6).id}`,
      `${second.runId} tenant removed ${at(next, 7).id}`,
      `${second.runId} removed ${gone[0]?.id ?? ""}`,
      `${second.runId} tenant removed ${gone[0]?.id ?? ""}`,
      `${third.runId} restored ${gone[0]?.id ?? ""}`,
      `${third.runId} tenant restored ${gone[0]?.id ?? ""}`,
    ].sort(),
  );
  const owner = changed.find((row) => row.kind === "owner");
  expect(owner).toMatchObject({
    field: "owner_email",
    old_value: at(customers, 2).ownerEmail,
    new_value: "new-owner@example.com",
    old_label: at(customers, 2).ownerEmail,
    new_label: "new-owner@example.com",
  });
  const status = changed.find((row) => row.kind === "status");
  expect(status).toMatchObject({
    old_value: String(at(customers, 0).jobStatus),
    new_label: at(next, 0).jobStatus === 2 ? "Failed" : "Waiting for Configuration",
  });
  expect(changed.find((row) => row.kind === "tenant renamed")).toMatchObject({
    organization: at(next, 5).organization,
    tenant_name: "t5-renamed",
    old_label: "t5",
    new_label: "t5-renamed",
  });

  // By kind: a list, repeated or comma-separated; `tenant` is every tenant change.
  expect(
    kinds(await report("--kind", "status,owner", "--kind", "tenant", "--no-first-seen")),
  ).toEqual(
    kinds(
      changed.filter(
        (row) => ["status", "owner"].includes(String(row.kind)) || row.entity === "tenant",
      ),
    ),
  );
  // The first run's appearances: customers and their tenants as added.
  const firstSeen = await report("--kind", "added,tenant");
  expect(firstSeen.filter((row) => row.run_id === first.runId)).toHaveLength(20);
  // By customer: its own changes and its tenants'.
  const one = await report("--customer", at(next, 5).id, "--customer", at(next, 2).id);
  expect(kinds(one)).toEqual(
    [
      `${first.runId} added ${at(next, 2).id}`,
      `${first.runId} tenant added ${at(next, 2).id}`,
      `${first.runId} added ${at(next, 5).id}`,
      `${first.runId} tenant added ${at(next, 5).id}`,
      `${second.runId} owner ${at(next, 2).id}`,
      `${second.runId} tenant renamed ${at(next, 5).id}`,
    ].sort(),
  );

  // The table for people: labels, the tenant's name, old → new.
  const table = await runCli(
    ["report", "changes", "--no-first-seen", "--kind", "owner,tenant"],
    env,
  );
  expect(table.code).toBe(0);
  expect(table.stdout).toContain(`${at(customers, 2).ownerEmail} → new-owner@example.com`);
  expect(table.stdout).toMatch(/tenant renamed +t5 → t5-renamed/);
  expect(table.stdout).toMatch(/tenant added +t6-new/);

  // A kind it does not know: a usage error naming the kinds.
  const wrong = await runCli(["report", "changes", "--kind", "owners"], env);
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/--kind must be one or more of added, .*; got "owners".*owner/);
});
