// Issue 23 end to end: subscriptions and backup jobs synced beside customers, through the
// simulator over HTTP into a real PostgreSQL, with their histories' invariants after every run.
import { describe, expect, it } from "vitest";
import { BACKUP_JOB_STATUS_LABELS, FAILING_BACKUP_JOB_STATUSES } from "../src/elements/codes.ts";
import { JOBS_PERMISSION, LICENSE_PERMISSION } from "../src/elements/resources.ts";
import {
  openHarness as openCustomersHarness,
  type Harness,
  type HarnessOptions,
  type ServedResources,
} from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { customerRecord } from "./support/records.ts";
import { succeeded } from "./support/runs.ts";
import { readExpiringServices, readFailedJobs } from "../src/sql/notifications.ts";

const CUSTOMERS = [
  customerRecord({ id: "c-1", organization: "Contoso", jobStatus: 2 }),
  customerRecord({ id: "c-2", organization: "Fabrikam", jobStatus: 1 }),
];

/** A harness whose runs sync all three resources, as ELEMENTS_RESOURCES' default does. */
function openHarness(options: HarnessOptions): Promise<Harness> {
  return openCustomersHarness({ resources: ["customers", "services", "jobs"], ...options });
}

function product(overrides: Record<string, string> = {}): Record<string, string> {
  // Every documented field as a string, as the API sends it; overrides may add others.
  return {
    service: "Cloud Backup for Microsoft 365",
    subscriptionModel: "Per user",
    purchasedUserSeats: "50",
    purchasedUnits: "N/A",
    microsoftLicenseAssigned: "40",
    microsoftLicenseAvailable: "10",
    purchasedCapacity: "N/A",
    protectedCapacity: "0 GB",
    storage: "AvePoint storage",
    retention: "Unlimited",
    consumedStorage: "1 GB",
    expirationDate: "2027-01-31T00:00:00Z",
    change: "0",
    source: "AvePoint subscription",
    paymentType: "Prepaid",
    subscriptionName: "N/A",
    package: "Standard",
    contractEndDate: "N/A",
    ...overrides,
  };
}

function services(products: Record<string, Record<string, string>[]>): unknown[] {
  return Object.entries(products).map(([customerId, list]) => ({
    customerId,
    organization: "org",
    customer: "owner@example.com",
    products: list,
  }));
}

function job(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    jobType: 7,
    jobModule: 303,
    status: 1,
    jobId: "J-1",
    name: "Exchange backup",
    totalCount: "100",
    failedCount: "0",
    successfulCount: "100",
    skippedCount: "0",
    warningCount: "0",
    backupSize: "1 GB",
    startTime: "2026-12-01T01:00:00Z",
    endTime: "2026-12-01T01:10:00Z",
    jobDuration: "10m0s",
    lastModifyTime: "2026-12-01T01:10:01Z",
    ...overrides,
  };
}

async function syncServed(h: Harness, resources: ServedResources, options = {}) {
  await h.serve(CUSTOMERS, resources);
  const run = succeeded(await h.sync(options));
  await expectInvariants(h.db);
  return run;
}

/** Which endpoint a simulator request went to, from its path. */
function endpointOf(path: string): string {
  if (path.endsWith("/connect/token")) return "token";
  if (path.endsWith("/services/batch")) return "services";
  if (path.endsWith("/jobs/batch")) return "jobs";
  return "customers";
}

async function resourceRows(h: Harness, runId: number) {
  return h.db.query<{ resource: string; outcome: string; reason: string | null }>(
    `SELECT resource, outcome, reason, requests, records, rejected
     FROM sync_run_resources WHERE run_id = $1 ORDER BY resource`,
    [runId],
  );
}

describe("subscriptions", () => {
  it("are added, changed, removed and restored, with one history row per change", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    const first = await syncServed(h, {
      services: services({
        "c-1": [product()],
        "c-2": [product({ service: "Fly Migration to Google" })],
      }),
      jobs: {},
    });
    expect(
      await h.db
        .query(`SELECT customer_id, service, source, subscription_name, purchased_user_seats,
        purchased_units, expiration_date FROM reporting.services ORDER BY customer_id`),
    ).toEqual([
      expect.objectContaining({
        customer_id: "c-1",
        service: "Cloud Backup for Microsoft 365",
        subscription_name: null,
        purchased_user_seats: 50,
        purchased_units: null,
      }),
      expect.objectContaining({ customer_id: "c-2", service: "Fly Migration to Google" }),
    ]);
    expect(await resourceRows(h, first.runId)).toEqual([
      expect.objectContaining({ resource: "customers", outcome: "complete", records: 2 }),
      expect.objectContaining({ resource: "jobs", outcome: "complete", records: 0 }),
      expect.objectContaining({
        resource: "services",
        outcome: "complete",
        records: 2,
        requests: 1,
      }),
    ]);

    // Seats and expiration change; c-2's subscription goes (one of two: past the guard's 20%).
    const second = await syncServed(
      h,
      {
        services: services({
          "c-1": [product({ purchasedUserSeats: "75", expirationDate: "2028-01-31T00:00:00Z" })],
          "c-2": [],
        }),
        jobs: {},
      },
      { allowMassRemoval: true },
    );
    const changes = await h.db.query(
      `SELECT customer_id, field, old_value, new_value FROM reporting.service_changes
       WHERE run_id = $1 ORDER BY customer_id, field`,
      [second.runId],
    );
    expect(changes).toEqual([
      expect.objectContaining({ customer_id: "c-1", field: "expiration_date" }),
      expect.objectContaining({
        customer_id: "c-1",
        field: "purchased_user_seats",
        old_value: "50",
        new_value: "75",
      }),
      expect.objectContaining({
        customer_id: "c-2",
        field: "presence",
        old_value: "present",
        new_value: "removed",
      }),
    ]);
    expect(await h.db.query(`SELECT customer_id FROM reporting.services`)).toEqual([
      { customer_id: "c-1" },
    ]);

    // It comes back: restored, a new period after the removed one.
    await syncServed(h, {
      services: services({
        "c-1": [product({ purchasedUserSeats: "75", expirationDate: "2028-01-31T00:00:00Z" })],
        "c-2": [product({ service: "Fly Migration to Google" })],
      }),
      jobs: {},
    });
    expect(await h.db.query(`SELECT count(*)::int AS n FROM reporting.services`)).toEqual([
      { n: 2 },
    ]);
    expect(
      await h.db.query(
        `SELECT removed FROM subscription_history WHERE customer_id = 'c-2' ORDER BY valid_from`,
      ),
    ).toEqual([{ removed: false }, { removed: true }, { removed: false }]);
  });

  it("one expiring within 30 days is what NOTIFY_ON service:expiring:30 names, once", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const served = {
      services: services({
        "c-1": [product({ expirationDate: `${soon}T00:00:00Z` })],
        "c-2": [product()],
      }),
      jobs: {},
    };
    const first = await syncServed(h, served);
    const query = { days: 30, limit: 10 };
    expect(
      await readExpiringServices(h.database.pool, { runId: first.runId, ...query }),
    ).toMatchObject({ total: 1, listed: [{ customerId: "c-1", expirationDate: soon }] });
    const again = await syncServed(h, served);
    expect(
      await readExpiringServices(h.database.pool, { runId: again.runId, ...query }),
    ).toMatchObject({ total: 0 });
    expect(
      await h.db.query(`SELECT customer_id, days_until_expiration FROM reporting.services
                        WHERE days_until_expiration <= 30`),
    ).toEqual([{ customer_id: "c-1", days_until_expiration: expect.any(Number) as unknown }]);
  });

  it("a customer served again on a later page is merged again from its last copy", async () => {
    const h = await openHarness({ customers: CUSTOMERS, pageSize: 1, concurrency: 1 });
    await syncServed(h, { services: services({ "c-1": [product()] }), jobs: {} });
    // Offset paging over a changing list: c-1 on pages 1 and 2, its copies differing.
    const run = await syncServed(h, {
      services: [
        ...services({
          "c-1": [product({ purchasedUserSeats: "60" }), product({ service: "Only in copy 1" })],
        }),
        ...services({ "c-1": [product({ purchasedUserSeats: "70" })], "c-2": [] }),
      ],
      jobs: {},
    });
    expect(
      await h.db.query(
        `SELECT service, purchased_user_seats, removed, opened_by_run_id, closed_by_run_id
         FROM subscription_history ORDER BY id`,
      ),
    ).toEqual([
      expect.objectContaining({ purchased_user_seats: 50, closed_by_run_id: run.runId }),
      expect.objectContaining({ purchased_user_seats: 70, opened_by_run_id: run.runId }),
    ]);
    expect(await h.db.query(`SELECT service FROM subscriptions`)).toEqual([
      { service: "Cloud Backup for Microsoft 365" },
    ]);
    // A page of nothing new ends the paging, as for customers: the pass cannot be sure it
    // saw every customer.
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({
        resource: "services",
        outcome: "partial",
        reason: expect.stringContaining("paging stopped early") as unknown,
      }),
    );
  });

  it("a customer listing one identity twice: both rejected, none of its subscriptions removed", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    const other = product({ service: "Cloud Backup for Salesforce" });
    await syncServed(h, { services: services({ "c-1": [product(), other] }), jobs: {} });
    const run = await syncServed(h, {
      services: services({
        "c-1": [product({ subscriptionModel: "a" }), product({ subscriptionModel: "b" })],
      }),
      jobs: {},
    });
    // Neither copy is stored, and the other subscription (no longer listed) stays.
    expect(
      await h.db.query(
        `SELECT service, subscription_model FROM reporting.services ORDER BY service`,
      ),
    ).toEqual([
      { service: "Cloud Backup for Microsoft 365", subscription_model: "Per user" },
      { service: "Cloud Backup for Salesforce", subscription_model: "Per user" },
    ]);
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({ resource: "services", outcome: "complete", rejected: 2 }),
    );
    expect(JSON.stringify(h.logs)).toContain("c-1: Cloud Backup for Microsoft 365");
  });

  it("N/A is NULL; a value that does not parse is NULL, kept as sent, and announced once", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, {
      services: services({
        "c-1": [
          product({ purchasedUserSeats: "fifty", expirationDate: "soon", storage: "N/A" }),
          product({ service: "Fly Migration to Google", purchasedUserSeats: "many", tier: "gold" }),
        ],
      }),
      jobs: {},
    });
    expect(
      await h.db.query(
        `SELECT purchased_user_seats, expiration_date, storage,
                source_record->>'purchasedUserSeats' AS sent_seats
         FROM subscriptions`,
      ),
    ).toEqual([
      { purchased_user_seats: null, expiration_date: null, storage: null, sent_seats: "fifty" },
      expect.objectContaining({ purchased_user_seats: null, sent_seats: "many" }),
    ]);
    const announced = h.logs.filter((line) => String(line.msg).includes("did not parse"));
    expect(announced.map((line) => line.msg)).toEqual([
      "product fields that did not parse into their type, stored as NULL: " +
        "expirationDate (1), purchasedUserSeats (2)",
    ]);
    // A field the documentation does not list is kept, and named once.
    expect(
      await h.db.query(
        `SELECT source_record->>'tier' AS tier FROM subscriptions WHERE service LIKE 'Fly%'`,
      ),
    ).toEqual([{ tier: "gold" }]);
    const named = h.logs.filter((line) => String(line.msg).includes("outside the documented set"));
    expect(named.map((line) => line.msg)).toEqual([
      "product fields outside the documented set, kept in source_record: tier (1)",
    ]);
  });

  it("an identity is its parts, not their text joined: no false duplicate", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, {
      services: services({
        "c-1": [
          product({ service: "A / B", source: "C" }),
          product({ service: "A", source: "B / C" }),
        ],
      }),
      jobs: {},
    });
    expect(await h.db.query(`SELECT service, source FROM subscriptions ORDER BY 1`)).toEqual([
      { service: "A", source: "B / C" },
      { service: "A / B", source: "C" },
    ]);
  });

  it("a removed customer's subscriptions are removed with it", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    const both = services({ "c-1": [product()], "c-2": [product()] });
    await syncServed(h, { services: both, jobs: {} });
    await h.serve([CUSTOMERS[0]], { services: both, jobs: {} });
    succeeded(await h.sync({ allowMassRemoval: true }));
    await expectInvariants(h.db);
    expect(
      await h.db.query(
        `SELECT customer_id, removed_at IS NOT NULL AS removed FROM subscriptions ORDER BY 1`,
      ),
    ).toEqual([
      { customer_id: "c-1", removed: false },
      { customer_id: "c-2", removed: true },
    ]);
  });
});

describe("when subscriptions may be removed", () => {
  const four = services({
    "c-1": [product(), product({ service: "Fly Migration to Google" })],
    "c-2": [product(), product({ service: "Fly Migration to Google" })],
  });

  it("the mass-removal guard keeps a pass that would remove too many from removing any", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, { services: four, jobs: {} });
    // Two of four gone: past the guard's 20%.
    const run = await syncServed(h, {
      services: services({ "c-1": [product()], "c-2": [product()] }),
      jobs: {},
    });
    expect(await h.db.query(`SELECT count(*)::int AS n FROM reporting.services`)).toEqual([
      { n: 4 },
    ]);
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({
        resource: "services",
        outcome: "partial",
        reason: expect.stringContaining("mass-removal guard") as unknown,
      }),
    );
  });

  it("an incomplete pass (a rejected item) removes none", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, { services: four, jobs: {} });
    const run = await syncServed(
      h,
      {
        services: [...services({ "c-1": [product()] }), { organization: "no customerId" }],
        jobs: {},
      },
      { allowMassRemoval: true },
    );
    expect(await h.db.query(`SELECT count(*)::int AS n FROM reporting.services`)).toEqual([
      { n: 4 },
    ]);
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({ resource: "services", outcome: "partial" }),
    );
  });

  it("a pass refused on a later page is skipped whole: what its first pages merged is undone", async () => {
    const h = await openHarness({ customers: CUSTOMERS, pageSize: 1, concurrency: 1 });
    await syncServed(h, { services: four, jobs: {} });
    h.simulator.injectFault({ endpoint: "services", onPage: 2, status: 403 });
    // Page 1 (c-1) changes seats and drops a product; page 2 is refused.
    const run = await syncServed(
      h,
      {
        services: services({ "c-1": [product({ purchasedUserSeats: "99" })], "c-2": [] }),
        jobs: {},
      },
      { allowMassRemoval: true },
    );
    expect(
      await h.db.query(
        `SELECT customer_id, service, purchased_user_seats FROM reporting.services ORDER BY 1, 2`,
      ),
    ).toEqual([
      { customer_id: "c-1", service: "Cloud Backup for Microsoft 365", purchased_user_seats: 50 },
      { customer_id: "c-1", service: "Fly Migration to Google", purchased_user_seats: 50 },
      { customer_id: "c-2", service: "Cloud Backup for Microsoft 365", purchased_user_seats: 50 },
      { customer_id: "c-2", service: "Fly Migration to Google", purchased_user_seats: 50 },
    ]);
    expect(
      await h.db.query(
        `SELECT count(*)::int AS n FROM subscription_history WHERE opened_by_run_id = $1`,
        [run.runId],
      ),
    ).toEqual([{ n: 0 }]);
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({ resource: "services", outcome: "skipped" }),
    );
  });

  it("a --customer run reads that customer's subscriptions and jobs, and removes nothing", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, { services: four, jobs: {} });
    const run = await syncServed(
      h,
      {
        services: services({ "c-1": [product({ purchasedUserSeats: "99" })], "c-2": [] }),
        jobs: { "c-1": [job()], "c-2": [job({ jobId: "J-2" })] },
      },
      { customerId: "c-1", allowMassRemoval: true },
    );
    expect(
      await h.db.query(
        `SELECT customer_id, service, purchased_user_seats FROM reporting.services ORDER BY 1, 2`,
      ),
    ).toEqual([
      { customer_id: "c-1", service: "Cloud Backup for Microsoft 365", purchased_user_seats: 99 },
      { customer_id: "c-1", service: "Fly Migration to Google", purchased_user_seats: 50 },
      { customer_id: "c-2", service: "Cloud Backup for Microsoft 365", purchased_user_seats: 50 },
      { customer_id: "c-2", service: "Fly Migration to Google", purchased_user_seats: 50 },
    ]);
    expect(await h.db.query(`SELECT customer_id FROM backup_jobs`)).toEqual([
      { customer_id: "c-1" },
    ]);
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({ resource: "jobs", requests: 1 }),
    );
  });
});

describe("backup jobs", () => {
  it("a job running then failing has a status history; one no longer listed stays", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, { services: [], jobs: { "c-1": [job()], "c-2": [job({ jobId: "J-2" })] } });
    const second = await syncServed(h, {
      services: [],
      jobs: { "c-1": [job({ status: 3, failedCount: "5" })], "c-2": [] },
    });
    expect(
      await h.db.query(
        `SELECT customer_id, job_id, old_status, old_status_label, new_status, new_status_label
         FROM reporting.backup_job_status_changes WHERE run_id = $1`,
        [second.runId],
      ),
    ).toEqual([
      {
        customer_id: "c-1",
        job_id: "J-1",
        old_status: 1,
        old_status_label: "Running",
        new_status: 3,
        new_status_label: "Failed",
      },
    ]);
    // J-2, no longer listed, stays as last seen: by the first run.
    const [firstRun] = await h.db.query<{ started_at: Date }>(
      `SELECT started_at FROM sync_runs ORDER BY id LIMIT 1`,
    );
    expect(await h.db.query(`SELECT last_seen_at FROM backup_jobs WHERE job_id = 'J-2'`)).toEqual([
      { last_seen_at: firstRun?.started_at },
    ]);
    expect(
      await h.db.query(
        `SELECT customer_id, job_id, status, failed_count::int FROM reporting.backup_jobs ORDER BY 1`,
      ),
    ).toEqual([
      { customer_id: "c-1", job_id: "J-1", status: 3, failed_count: 5 },
      { customer_id: "c-2", job_id: "J-2", status: 1, failed_count: 0 },
    ]);
    // NOTIFY_ON job:failed reads the periods the merge opened.
    const turned = await readFailedJobs(h.database.pool, { runId: second.runId, limit: 10 });
    expect(turned).toMatchObject({ total: 1, listed: [{ jobId: "J-1", previousStatus: 1 }] });
    // c-1 is Failed (job status 2) and its job failed: the answer to "why".
    expect(await h.db.query(`SELECT customer_id, job_id FROM reporting.failing_customers`)).toEqual(
      [{ customer_id: "c-1", job_id: "J-1" }],
    );
  });

  it("failing means one list: reporting.failing_customers and job:failed agree with the code", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    const statuses = [...BACKUP_JOB_STATUS_LABELS.keys()];
    const run = await syncServed(h, {
      services: [],
      jobs: { "c-1": statuses.map((status) => job({ jobId: `J-${status}`, status })) },
    });
    const inView = await h.db.query<{ status: number }>(
      `SELECT status FROM reporting.failing_customers WHERE customer_id = 'c-1' ORDER BY 1`,
    );
    expect(inView.map((row) => row.status)).toEqual(FAILING_BACKUP_JOB_STATUSES);
    const turned = await readFailedJobs(h.database.pool, { runId: run.runId, limit: 50 });
    expect(turned.listed.map((row) => row.status).sort((a, b) => a - b)).toEqual(
      FAILING_BACKUP_JOB_STATUSES,
    );
  });

  it("unknown codes are kept with no label and announced once", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, {
      services: [],
      jobs: {
        "c-1": [
          job({ jobModule: 999, region: "eu" }),
          job({ jobId: "J-9", jobModule: 999, jobType: 77 }),
        ],
      },
    });
    expect(
      await h.db.query(
        `SELECT job_id, job_module, job_module_label, job_type_label FROM reporting.backup_jobs ORDER BY 1`,
      ),
    ).toEqual([
      { job_id: "J-1", job_module: 999, job_module_label: null, job_type_label: "Microsoft 365" },
      { job_id: "J-9", job_module: 999, job_module_label: null, job_type_label: null },
    ]);
    const announced = h.logs.filter((line) => String(line.msg).includes("codes outside"));
    expect(announced).toHaveLength(1);
    expect(announced[0]?.msg).toMatch(/jobModule 999 \(2\).*jobType 77 \(1\)/);
    const named = h.logs.filter((line) => String(line.msg).includes("fields outside"));
    expect(named.map((line) => line.msg)).toEqual([
      "backup-job fields outside the documented set, kept in source_record: region (1)",
    ]);
  });

  it("a customer whose lookup fails for good is named; the run succeeds with jobs partial", async () => {
    const h = await openHarness({ customers: CUSTOMERS, maxAttempts: 2 });
    await syncServed(h, { services: [], jobs: { "c-1": [job()], "c-2": [job({ jobId: "J-2" })] } });
    h.simulator.injectFault({ endpoint: "jobs", customerId: "c-2", status: 500, times: 10 });
    const run = await syncServed(h, {
      services: [],
      jobs: { "c-1": [job({ status: 2 })], "c-2": [job({ jobId: "J-2", status: 3 })] },
    });
    const rows = await resourceRows(h, run.runId);
    expect(rows.find((row) => row.resource === "jobs")).toMatchObject({
      outcome: "partial",
      reason: expect.stringContaining("c-2") as unknown,
    });
    // c-2's job is as it was; c-1's moved on.
    expect(await h.db.query(`SELECT customer_id, status FROM backup_jobs ORDER BY 1`)).toEqual([
      { customer_id: "c-1", status: 2 },
      { customer_id: "c-2", status: 1 },
    ]);
  });

  it("a lookup refused (403) part-way skips the jobs: none of the run's job changes stays", async () => {
    const h = await openHarness({ customers: CUSTOMERS, concurrency: 1 });
    await syncServed(h, { services: [], jobs: { "c-1": [job()], "c-2": [job({ jobId: "J-2" })] } });
    h.simulator.injectFault({ endpoint: "jobs", customerId: "c-2", status: 403 });
    const run = await syncServed(h, {
      services: [],
      jobs: { "c-1": [job({ status: 3 })], "c-2": [job({ jobId: "J-2", status: 3 })] },
    });
    expect(await h.db.query(`SELECT customer_id, status FROM backup_jobs ORDER BY 1`)).toEqual([
      { customer_id: "c-1", status: 1 },
      { customer_id: "c-2", status: 1 },
    ]);
    expect(await resourceRows(h, run.runId)).toContainEqual(
      expect.objectContaining({
        resource: "jobs",
        outcome: "skipped",
        reason: expect.stringContaining("elements.jobs.read.all") as unknown,
      }),
    );
  });

  it("a lookup refused outright (400) fails the run, as a failure no retry can mend", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await h.serve(CUSTOMERS, { services: [], jobs: { "c-1": [job()] } });
    h.simulator.injectFault({ endpoint: "jobs", customerId: "c-2", status: 400 });
    const run = await h.sync();
    expect(run).toMatchObject({
      status: "failed",
      error: expect.stringContaining("400") as unknown,
    });
    await expectInvariants(h.db);
  });

  it("a customer whose lookup answers 404 is named; its jobs stay", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(h, { services: [], jobs: { "c-1": [job()], "c-2": [job({ jobId: "J-2" })] } });
    h.simulator.injectFault({ endpoint: "jobs", customerId: "c-2", status: 404 });
    const run = await syncServed(h, {
      services: [],
      jobs: { "c-1": [job({ status: 2 })], "c-2": [job({ jobId: "J-2", status: 3 })] },
    });
    expect((await resourceRows(h, run.runId)).find((row) => row.resource === "jobs")).toMatchObject(
      {
        outcome: "partial",
        reason: expect.stringMatching(/1 of 2 customer\(s\) could not be read \(c-2\)/) as unknown,
      },
    );
    expect(await h.db.query(`SELECT customer_id, status FROM backup_jobs ORDER BY 1`)).toEqual([
      { customer_id: "c-1", status: 2 },
      { customer_id: "c-2", status: 1 },
    ]);
  });

  it("ELEMENTS_JOBS_FOR_STATUS asks only for customers with those job statuses", async () => {
    const h = await openHarness({ customers: CUSTOMERS });
    await syncServed(
      h,
      { services: [], jobs: { "c-1": [job()], "c-2": [job({ jobId: "J-2" })] } },
      { jobsForStatus: [2] },
    );
    expect(await h.db.query(`SELECT customer_id FROM backup_jobs`)).toEqual([
      { customer_id: "c-1" },
    ]);
  });
});

describe("resources and permissions", () => {
  it("a services failure other than a permission fails the run, which records how far it got", async () => {
    const h = await openHarness({ customers: CUSTOMERS, maxAttempts: 2 });
    await h.serve(CUSTOMERS, { services: services({ "c-1": [product()] }), jobs: {} });
    h.simulator.injectFault({ endpoint: "services", status: 500, times: 10 });
    const run = await h.sync();
    expect(run.status).toBe("failed");
    await expectInvariants(h.db);
    expect(await h.db.query(`SELECT count(*)::int AS n FROM customers`)).toEqual([{ n: 0 }]);
    expect(await resourceRows(h, run.runId)).toEqual([
      expect.objectContaining({ resource: "customers", outcome: "complete", records: 2 }),
      expect.objectContaining({
        resource: "services",
        outcome: "partial",
        requests: 2,
        reason: expect.stringContaining("500") as unknown,
      }),
    ]);
  });

  for (const resources of [
    ["customers"],
    ["customers", "services"],
    ["jobs", "customers"],
  ] as const) {
    it(`${resources.join(",")}: those resources, no request to the others`, async () => {
      const h = await openHarness({ customers: CUSTOMERS });
      const served = { services: services({ "c-1": [product()] }), jobs: { "c-1": [job()] } };
      const run = await syncServed(h, served, { resources });
      const synced = [...resources].sort();
      expect((await resourceRows(h, run.runId)).map((row) => row.resource)).toEqual(synced);
      const asked = new Set(h.simulator.requests.map((request) => endpointOf(request.path)));
      expect([...asked].filter((name) => name !== "token").sort()).toEqual(synced);
      const stored = await h.db.query<{ subscriptions: number; jobs: number }>(
        `SELECT (SELECT count(*)::int FROM subscriptions) AS subscriptions,
                (SELECT count(*)::int FROM backup_jobs) AS jobs`,
      );
      expect(stored).toEqual([
        {
          subscriptions: synced.includes("services") ? 1 : 0,
          jobs: synced.includes("jobs") ? 1 : 0,
        },
      ]);
    });
  }

  for (const [resource, permission] of [
    ["services", LICENSE_PERMISSION],
    ["jobs", JOBS_PERMISSION],
  ] as const) {
    it(`without ${permission}, ${resource} is skipped with one warning and the run succeeds`, async () => {
      const h = await openHarness({ customers: CUSTOMERS });
      h.simulator.denyPermissions([permission]);
      const run = await syncServed(h, {
        services: services({ "c-1": [product()] }),
        jobs: { "c-1": [job()] },
      });
      expect(run.customersAdded).toBe(2);
      expect(await resourceRows(h, run.runId)).toContainEqual(
        expect.objectContaining({
          resource,
          outcome: "skipped",
          reason: expect.stringContaining(permission) as unknown,
        }),
      );
      const warnings = h.logs.filter((line) => String(line.msg).includes(`grant ${permission}`));
      expect(warnings).toHaveLength(1);
    });
  }
});
