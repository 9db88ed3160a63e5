// Nothing the API sends is lost: every customer's record as last received (unknown fields
// and the tenants list included) is kept in customers.source_record; fields outside the
// documented set are named once per run (a warning, sync_runs.new_fields) and are kept
// current, never versioned. Real sync against the simulator, real PostgreSQL.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { readRuns } from "../src/sql/reporting.ts";
import { runsForPeople } from "../src/reporting/reports.ts";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { runCli } from "./support/cli.ts";
import { connectAs } from "./support/database.ts";
import { openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { syncOk } from "./support/runs.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const NEW_FIELDS_WARNING = /^fields outside the documented set/;

/** The customers as the sync stored them: id → source_record. */
async function sourceRecords(h: Harness): Promise<Map<string, unknown>> {
  const rows = await h.db.query<{ id: string; source_record: unknown }>(
    "SELECT id, source_record FROM customers ORDER BY id",
  );
  return new Map(rows.map((row) => [row.id, row.source_record]));
}

async function newFieldsOf(h: Harness, runId: number): Promise<string[] | null> {
  const [row] = await h.db.query<{ new_fields: string[] | null }>(
    "SELECT new_fields FROM reporting.sync_runs WHERE run_id = $1",
    [runId],
  );
  return row?.new_fields ?? null;
}

/** The run's warnings naming new fields. */
function newFieldWarnings(h: Harness, runId: number): Record<string, unknown>[] {
  return h.logs.filter(
    (line) =>
      line.runId === runId && typeof line.msg === "string" && NEW_FIELDS_WARNING.test(line.msg),
  );
}

async function periodsOpenedBy(h: Harness, runId: number): Promise<number> {
  const [row] = await h.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM customer_status_history WHERE opened_by_run_id = $1",
    [runId],
  );
  return row?.n ?? -1;
}

/** `customers` with unknown fields: a timestamp on every customer, a region on the first tenant. */
function withUnknownFields(customers: readonly SimulatedCustomer[], backupAt: string) {
  return customers.map((customer, index) => ({
    ...customer,
    lastBackupAt: backupAt,
    tenants: customer.tenants.map((tenant, t) =>
      index === 0 && t === 0 ? { ...tenant, region: `eu-${backupAt}` } : tenant,
    ),
  }));
}

describe("the source record", () => {
  it("keeps unknown fields current in source_record, names them once per run, and opens no period", async () => {
    const customers = sampleCustomers(12);
    const h = await openHarness({ customers, pageSize: 5 });
    const [first] = customers;
    if (!first?.tenants[0]) throw new Error("the sample's first customer needs a tenant");

    // A run without unknown fields: new_fields is empty, not null, and nothing is announced.
    const plain = await syncOk(h);
    expect(plain.newFields).toEqual([]);
    expect(await newFieldsOf(h, plain.runId)).toEqual([]);
    expect(newFieldWarnings(h, plain.runId)).toEqual([]);
    expect(Object.fromEntries(await sourceRecords(h))).toEqual(
      Object.fromEntries(customers.map((c) => [c.id, c])),
    );

    // The API adds a customer field and a tenant field: kept, named, never an error.
    const monday = withUnknownFields(customers, "2026-11-30T01:00:00Z");
    await h.serve(monday);
    const added = await syncOk(h);
    expect(added).toMatchObject({ complete: true, rejectedRecords: 0, statusChanges: 0 });
    expect(added.newFields).toEqual(["lastBackupAt", "tenants[].region"]);
    expect(await newFieldsOf(h, added.runId)).toEqual(["lastBackupAt", "tenants[].region"]);
    const stored = await sourceRecords(h);
    expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(monday.map((c) => [c.id, c])));
    expect(stored.get(first.id)).toMatchObject({
      lastBackupAt: "2026-11-30T01:00:00Z",
      tenants: expect.arrayContaining([
        { ...first.tenants[0], region: "eu-2026-11-30T01:00:00Z" },
      ]) as unknown,
    });
    // The manual's ways (docs/reporting.md) of reading a field and a tenant's field.
    const [read] = await h.db.query<{ backup: string }>(
      "SELECT source_record ->> 'lastBackupAt' AS backup FROM customers WHERE id = $1",
      [first.id],
    );
    expect(read?.backup).toBe("2026-11-30T01:00:00Z");
    const regions = await h.db.query<{ region: string | null }>(
      `SELECT jsonb_array_elements(source_record -> 'tenants') ->> 'region' AS region
       FROM customers WHERE id = $1`,
      [first.id],
    );
    expect(regions[0]).toEqual({ region: "eu-2026-11-30T01:00:00Z" });
    // Twelve customers carry the new field on three pages: one warning for the run.
    expect(newFieldWarnings(h, added.runId)).toEqual([
      expect.objectContaining({ newFields: ["lastBackupAt", "tenants[].region"] }),
    ]);
    expect(await periodsOpenedBy(h, added.runId)).toBe(0);
    // `report runs`: one cell in every format, and the table's note.
    const [reported, before] = await readRuns(h.database.pool, 2);
    expect([reported?.new_fields, before?.new_fields]).toEqual([
      "lastBackupAt, tenants[].region",
      null,
    ]);
    expect(runsForPeople(reported ? [reported] : []).rows[0]?.at(-1)).toBe(
      "new fields: lastBackupAt, tenants[].region",
    );

    // The next night every value differs: source_record follows, still no period.
    const tuesday = withUnknownFields(customers, "2026-12-01T01:00:00Z");
    await h.serve(tuesday);
    const changed = await syncOk(h);
    expect(changed).toMatchObject({ statusChanges: 0, customersAdded: 0 });
    expect(changed.newFields).toEqual(["lastBackupAt", "tenants[].region"]);
    expect(Object.fromEntries(await sourceRecords(h))).toEqual(
      Object.fromEntries(tuesday.map((c) => [c.id, c])),
    );
    expect(newFieldWarnings(h, changed.runId)).toHaveLength(1);
    expect(await periodsOpenedBy(h, changed.runId)).toBe(0);
    const [history] = await h.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM customer_status_history",
    );
    expect(history?.n).toBe(customers.length);
  });

  it("records the new fields of a run that fails, and changes no customer", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers, pageSize: 5, concurrency: 1 });
    await syncOk(h);
    await h.serve(withUnknownFields(customers, "2026-11-30T01:00:00Z"));
    h.simulator.injectFault({ onPage: 2, status: 400 });
    const run = await h.sync();
    expect(run).toMatchObject({
      status: "failed",
      newFields: ["lastBackupAt", "tenants[].region"],
    });
    expect(await newFieldsOf(h, run.runId)).toEqual(["lastBackupAt", "tenants[].region"]);
    expect(newFieldWarnings(h, run.runId)).toHaveLength(1);
    // Nothing merged: the records stay as the last succeeded run stored them.
    expect(Object.fromEntries(await sourceRecords(h))).toEqual(
      Object.fromEntries(customers.map((c) => [c.id, c])),
    );
  });

  it("names a field that only a customer asked for by id carries", async () => {
    const customers = sampleCustomers(10);
    const h = await openHarness({ customers, pageSize: 10, concurrency: 1 });
    await syncOk(h);
    const [first] = customers;
    if (!first) throw new Error("sample too small");
    // The pages leave the first customer out; asked for by id, it comes with a new field.
    await h.serve(customers.slice(1));
    h.simulator.injectFault({ onPage: 1, delayMs: 0 });
    const lookedUp = { ...first, contractEnds: "2027-06-30" };
    h.simulator.injectFault({
      onPage: 1,
      status: 200,
      body: JSON.stringify({ data: [lookedUp], metadata: { totalCount: 1 } }),
    });
    const run = await syncOk(h);
    expect(run).toMatchObject({ customersRemoved: 0, newFields: ["contractEnds"] });
    expect((await sourceRecords(h)).get(first.id)).toEqual(lookedUp);
  });

  it("stores an unknown field's NUL or unpaired surrogate as jsonb can hold it, and accepts the record", async () => {
    const [customer] = sampleCustomers(1);
    if (!customer) throw new Error("unreachable");
    const served = {
      ...customer,
      note: "a\u0000b",
      "odd\u0000key": "\uD800 alone",
      tenants: customer.tenants.map((tenant) => ({ ...tenant, tag: ["x\u0000"] })),
    };
    const h = await openHarness({ customers: [served] });
    const run = await syncOk(h);
    expect(run).toMatchObject({ complete: true, rejectedRecords: 0 });
    expect(run.newFields).toEqual(["note", "odd\\u0000key", "tenants[].tag"]);
    expect((await sourceRecords(h)).get(customer.id)).toEqual({
      ...customer,
      note: "a\\u0000b",
      "odd\\u0000key": "\uFFFD alone",
      tenants: customer.tenants.map((tenant) => ({ ...tenant, tag: ["x\\u0000"] })),
    });
  });

  it("is readable in reporting.customers by a bi-access role", async () => {
    const customers = withUnknownFields(sampleCustomers(3), "2026-11-30T01:00:00Z");
    const h = await openHarness({ customers });
    await syncOk(h);
    const role = `bi_source_${randomBytes(4).toString("hex")}`;
    const dir = mkdtempSync(join(tmpdir(), "elements-sync-source-"));
    const passwordFile = join(dir, "password");
    writeFileSync(passwordFile, "reader password\n");
    cleanups.push(async () => {
      rmSync(dir, { recursive: true, force: true });
      // Once the harness dropped its database: then the role owns and holds nothing.
      await h.close();
      const admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
    });
    const created = await runCli(["bi-access", role, "--password-file", passwordFile], {
      DATABASE_URL: h.db.url,
    });
    expect(created.code).toBe(0);

    const reader = await connectAs(h.db, role, "reader password");
    try {
      const { rows } = await reader.query<{ customer_id: string; source_record: unknown }>(
        "SELECT customer_id, source_record FROM reporting.customers ORDER BY customer_id",
      );
      expect(Object.fromEntries(rows.map((r) => [r.customer_id, r.source_record]))).toEqual(
        Object.fromEntries(customers.map((c) => [c.id, c])),
      );
      const { rows: runs } = await reader.query<{ new_fields: string[] }>(
        "SELECT new_fields FROM reporting.sync_runs",
      );
      expect(runs).toEqual([{ new_fields: ["lastBackupAt", "tenants[].region"] }]);
    } finally {
      await reader.end();
    }
  });
});
