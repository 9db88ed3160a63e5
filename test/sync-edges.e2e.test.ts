// End to end: records the run must reject or flag, certificate authentication,
// single-customer runs, and runs that must not overlap or be left running.
import { describe, expect, it } from "vitest";
import { createTestCertificate } from "./support/certificate.ts";
import { snapshotData } from "./support/data.ts";
import { duringMerge, openHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed } from "./support/runs.ts";

describe("records", () => {
  it("rejects a record without an id or with wrong types, logs its page and position, and removes nothing", async () => {
    const customers: unknown[] = sampleCustomers(12);
    const h = await openHarness({ customers, pageSize: 5 });
    await h.sync();
    const [first, second, ...rest] = customers as Record<string, unknown>[];
    const { id: _id, ...withoutId } = first ?? {};
    await h.serve([withoutId, { ...second, jobStatus: "Working" }, ...rest.slice(0, 9)]);

    const run = await h.sync();
    expect(run).toMatchObject({
      status: "succeeded",
      rejectedRecords: 2,
      complete: false,
      customersRemoved: 0,
      customersSeen: 9,
    });
    const rejected = h.logs.filter((line) => line.msg === "rejected a customer record");
    expect(rejected.map(({ pageIndex, position, id }) => ({ pageIndex, position, id }))).toEqual([
      { pageIndex: 1, position: 0, id: undefined },
      { pageIndex: 1, position: 1, id: second?.id },
    ]);
    expect(String(rejected[1]?.reason)).toContain("jobStatus");
    const [row] = await h.db.query(
      "SELECT rejected_records, complete, incomplete_reason FROM sync_runs WHERE id = $1",
      [run.runId],
    );
    expect(row).toEqual({
      rejected_records: 2,
      complete: false,
      incomplete_reason: "2 record(s) rejected",
    });
    // The customer whose record was rejected keeps its last good state.
    const [kept] = await h.db.query("SELECT job_status, removed_at FROM customers WHERE id = $1", [
      second?.id,
    ]);
    expect(kept).toEqual({ job_status: second?.jobStatus, removed_at: null });
    await expectInvariants(h.db);
  });

  it("keeps undocumented codes, labels them unknown and warns once per run", async () => {
    const customers = sampleCustomers(10);
    for (const customer of customers.slice(0, 3)) customer.jobStatus = 9;
    const first = customers[0];
    if (first) first.managementMode = 7;
    const h = await openHarness({ customers });
    const run = await h.sync();
    expect(run).toMatchObject({ status: "succeeded", complete: true, rejectedRecords: 0 });
    const stored = await h.db.query(
      "SELECT count(*)::int AS n FROM customers WHERE job_status = 9",
    );
    expect(stored).toEqual([{ n: 3 }]);
    const warnings = h.logs.filter(
      (line) => typeof line.msg === "string" && line.msg.startsWith("undocumented"),
    );
    expect(warnings.map(({ field, code, label }) => ({ field, code, label }))).toEqual([
      { field: "jobStatus", code: 9, label: "unknown (9)" },
      { field: "managementMode", code: 7, label: "unknown (7)" },
    ]);
    await expectInvariants(h.db);
  });

  it("rejects text PostgreSQL cannot store and codes outside its integer range, and goes on", async () => {
    const customers: object[] = sampleCustomers(6);
    customers[1] = { ...customers[1], organization: "nul\u0000byte" };
    customers[2] = { ...customers[2], jobStatus: 2 ** 31 };
    const h = await openHarness({ customers });
    const run = await h.sync();
    expect(run).toMatchObject({ status: "succeeded", rejectedRecords: 2, customersSeen: 4 });
    const reasons = h.logs
      .filter((l) => l.msg === "rejected a customer record")
      .map((l) => l.reason);
    expect(reasons).toEqual([
      expect.stringContaining("organization: contains a NUL character"),
      expect.stringContaining("jobStatus: Too big"),
    ]);
  });

  it("fails the run when a response body is not the documented shape, changing nothing", async () => {
    const customers = sampleCustomers(12);
    const h = await openHarness({ customers, pageSize: 5 });
    await h.sync();
    const before = await h.db.query("SELECT * FROM customers ORDER BY id");
    const first = customers[0];
    if (first) first.jobStatus = first.jobStatus === 2 ? 3 : 2;
    await h.serve(customers);
    h.simulator.injectFault({ status: 200, body: JSON.stringify({ items: [] }), onPage: 2 });
    const requestsBefore = h.simulator.requests.length;
    const run = await h.sync();
    expect(failed(run).error).toMatch(/not the documented shape.*data/);
    // JSON in the wrong shape is not retried (a body that is not JSON at all is).
    const page2 = h.simulator.requests.slice(requestsBefore).filter((r) => r.pageIndex === 2);
    expect(page2).toHaveLength(1);
    expect(await h.db.query("SELECT * FROM customers ORDER BY id")).toEqual(before);
    await expectInvariants(h.db);
  });
});

describe("authentication", () => {
  it("authenticates with a certificate (private_key_jwt)", async () => {
    const certificate = createTestCertificate();
    const h = await openHarness({
      credentials: {
        kind: "certificate",
        certificatePath: certificate.combinedPemPath,
        passphrase: undefined,
      },
      simulator: { certificatePem: certificate.certificatePem },
    });
    const run = await h.sync();
    expect(run).toMatchObject({ status: "succeeded", customersSeen: 25 });
    expect(
      h.simulator.requests.filter((r) => r.path === "/connect/token").map((r) => r.status),
    ).toEqual([200]);
  });

  it("fails clearly when the identity service refuses the credentials", async () => {
    const h = await openHarness({
      credentials: { kind: "secret", clientSecret: "wrong-secret-value" },
    });
    const run = failed(await h.sync());
    expect(run.error).toMatch(/refused the app's credentials.*ELEMENTS_CLIENT_ID/);
    expect(JSON.stringify(h.logs)).not.toContain("wrong-secret-value");
    expect(run.error).not.toContain("wrong-secret-value");
  });
});

describe("single-customer runs", () => {
  it("updates just that customer and marks nothing removed", async () => {
    const customers = sampleCustomers(15);
    const h = await openHarness({ customers });
    await h.sync();
    const target = customers[4];
    const other = customers[5];
    if (!target || !other) throw new Error("unreachable");
    target.jobStatus = target.jobStatus === 2 ? 3 : 2;
    other.jobStatus = other.jobStatus === 2 ? 3 : 2;
    await h.serve(customers);

    const run = await h.sync({ customerId: target.id });
    expect(run).toMatchObject({
      status: "succeeded",
      customersSeen: 1,
      complete: false,
      statusChanges: 1,
      customersRemoved: 0,
    });
    const rows = await h.db.query<{ id: string; job_status: number }>(
      "SELECT id, job_status FROM customers WHERE id = ANY($1)",
      [[target.id, other.id]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.job_status]))).toEqual({
      [target.id]: target.jobStatus,
      [other.id]: sampleCustomers(15)[5]?.jobStatus,
    });
    const [row] = await h.db.query("SELECT customer_filter FROM sync_runs WHERE id = $1", [
      run.runId,
    ]);
    expect(row).toEqual({ customer_filter: target.id });
    // One request, asking for that customer in today's form.
    const byId = h.simulator.requests.filter(
      (r) => r.customerIds !== undefined || r.customerId !== undefined,
    );
    expect(byId.map((r) => [r.customerIds, r.customerId])).toEqual([[[target.id], undefined]]);
    await expectInvariants(h.db);
  });

  it("merges only the customer asked for, whatever else the API sends", async () => {
    const customers = sampleCustomers(5);
    const [target, other] = customers;
    if (!target || !other) throw new Error("unreachable");
    const h = await openHarness({ customers });
    h.simulator.injectFault({
      status: 200,
      onPage: 1,
      body: JSON.stringify({
        data: [target, other],
        metadata: { pageIndex: 1, pageSize: 10, totalCount: 2 },
      }),
    });
    const run = await h.sync({ customerId: target.id });
    expect(run).toMatchObject({ status: "succeeded", customersSeen: 1 });
    expect(await h.db.query("SELECT id FROM customers")).toEqual([{ id: target.id }]);
    // An answer holding a customer not asked for shows the filter was ignored: said once.
    expect(
      h.logs.filter((l) => /^the Elements API ignores the customerIds filter/.test(String(l.msg))),
    ).toHaveLength(1);
  });

  it("fails when the API does not know the customer", async () => {
    const h = await openHarness();
    const run = await h.sync({ customerId: "no-such-customer" });
    expect(run).toMatchObject({
      status: "failed",
      error: "The Elements API returned no customer with id no-such-customer.",
    });
  });
});

describe("runs", () => {
  it("refuses to start while another run holds the database", async () => {
    const h = await openHarness({ simulator: { latencyMs: 100 } });
    const first = h.sync();
    await expect.poll(() => h.simulator.requests.length).toBeGreaterThan(0);
    await expect(h.sync()).rejects.toThrow(/Another elements-sync run is in progress/);
    expect(await first).toMatchObject({ status: "succeeded" });
    const runs = await h.db.query("SELECT status FROM sync_runs");
    expect(runs).toEqual([{ status: "succeeded" }]);
  });

  it("marks a run left running by a dead process abandoned and drops what it staged", async () => {
    const h = await openHarness();
    const [stale] = await h.db.query<{ id: number }>(
      "INSERT INTO sync_runs DEFAULT VALUES RETURNING id",
    );
    await h.db.query("INSERT INTO staging_customers (run_id, id) VALUES ($1, 'x')", [stale?.id]);

    const run = await h.sync();
    expect(run.status).toBe("succeeded");
    const [row] = await h.db.query("SELECT status, error FROM sync_runs WHERE id = $1", [
      stale?.id,
    ]);
    expect(row).toEqual({
      status: "abandoned",
      error:
        "its process stopped, or lost its connection to the database, before recording how the run ended",
    });
    expect(await h.db.query("SELECT id FROM customers WHERE id = 'x'")).toEqual([]);
    await expectInvariants(h.db);
  });

  it("does not merge a run that another process marked abandoned meanwhile", async () => {
    const customers = sampleCustomers();
    const h = await openHarness({ customers, simulator: { latencyMs: 50 } });
    await h.sync();
    const before = await h.db.query("SELECT * FROM customer_status_history ORDER BY id");
    await h.serve(customers.slice(2));
    const running = h.sync();
    await expect
      .poll(
        async () => (await h.db.query("SELECT id FROM sync_runs WHERE status = 'running'")).length,
      )
      .toBe(1);
    await h.db.query(
      "UPDATE sync_runs SET status = 'abandoned', finished_at = now(), error = 'taken over' WHERE status = 'running'",
    );
    const run = await running;
    expect(failed(run).error).toBe(
      `Run ${run.runId} lost the run lock (its database session ended) and another run took over the database, so it was not merged.`,
    );
    expect(await h.db.query("SELECT * FROM customer_status_history ORDER BY id")).toEqual(before);
    const [row] = await h.db.query("SELECT status, error FROM sync_runs WHERE id = $1", [
      run.runId,
    ]);
    // Its process is alive and knows what happened: the row says that, not `abandoned`.
    expect(row).toEqual({ status: "failed", error: failed(run).error });
  });

  it("rolls the whole merge back when the database fails in the middle of it", async () => {
    const customers = sampleCustomers();
    const h = await openHarness({ customers });
    await h.sync();
    const before = await snapshotData(h.db);
    const changed = structuredClone(customers.slice(1));
    const first = changed[0];
    if (first) first.jobStatus = first.jobStatus === 2 ? 3 : 2;
    await h.serve(changed);
    // Customers are written before history in the merge; failing on history proves atomicity.
    await h.db.query(`
      CREATE FUNCTION fail_history() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
      CREATE TRIGGER fail_history BEFORE INSERT ON customer_status_history
        FOR EACH ROW EXECUTE FUNCTION fail_history();`);
    const run = await h.sync();
    expect(failed(run).error).toContain("disk full (simulated)");
    expect(await snapshotData(h.db)).toEqual(before);
    const [row] = await h.db.query("SELECT status FROM sync_runs WHERE id = $1", [run.runId]);
    expect(row).toEqual({ status: "failed" });
    await expectInvariants(h.db);
  });
});

describe("a stop signal", () => {
  it("that arrives once the merge has begun lets the merge finish: the run succeeds whole", async () => {
    const customers = sampleCustomers(12);
    const h = await openHarness({ customers, pageSize: 5 });
    // Hold the merge at its first write of history (earlier steps read customers), so the
    // signal comes while it runs.
    const stop = new AbortController();
    const { started: run } = await duringMerge(
      h.db,
      "customer_status_history",
      () => h.sync({ signal: stop.signal }),
      () => {
        stop.abort();
      },
    );
    expect(await run).toMatchObject({ status: "succeeded", customersAdded: 12 });
    const [counted] = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM customers");
    expect(counted?.n).toBe(12);
    await expectInvariants(h.db);
  });
});
