// The views of subscriptions, backup jobs and per-resource outcomes (issue 23), row by row,
// on rows written as a merge writes them: entities, their history periods (back to back,
// each opened and closed by a run, stamped with the run's started_at) and the runs.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { moveRun } from "./support/reporting-scenario.ts";

const T1 = "2026-11-01T02:00:00.000Z";
const T2 = "2026-11-02T02:00:00.000Z";
const T3 = "2026-11-03T02:00:00.000Z";
const at = (iso: string) => new Date(iso);

// An expiration before the runs, and one 10 days from today (whatever today is).
const OLD_EXPIRATION = "2026-09-26T00:00:00.000Z";
const CONTRACT_END = "2027-01-01T12:30:00.500Z";

let db: TestDatabase;
let expiresIn10Days: Date;

async function insert(table: string, rows: Record<string, unknown>[]): Promise<void> {
  for (const row of rows) {
    const columns = Object.keys(row);
    await db.query(
      `INSERT INTO ${table} (${columns.join(", ")})
       VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
      Object.values(row),
    );
  }
}

/** A history period as the merge writes it: opened by one run, closed by a later one. */
function period(opened: [number, string], closed?: [number, string]) {
  return {
    valid_from: opened[1],
    opened_by_run_id: opened[0],
    valid_to: closed?.[1] ?? null,
    closed_by_run_id: closed?.[0] ?? null,
  };
}
const RUN1: [number, string] = [1, T1];
const RUN2: [number, string] = [2, T2];
const RUN3: [number, string] = [3, T3];

const customer = (id: string, organization: string, jobStatus: number, removedAt?: string) => ({
  id,
  organization,
  job_status: jobStatus,
  management_mode: 1,
  first_seen_at: T1,
  last_seen_at: removedAt ? T2 : T3,
  removed_at: removedAt ?? null,
});

const job = (customerId: string, jobId: string, status: number, extra = {}) => ({
  customer_id: customerId,
  job_id: jobId,
  status,
  job_type: 7,
  job_module: 304,
  name: null,
  total_count: 2323,
  failed_count: 5,
  source_record: JSON.stringify({ jobId, status }),
  last_seen_at: T3,
  ...extra,
});

beforeAll(async () => {
  db = await createTestDatabase("es_resource_views");
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await migrate(pool);
  await pool.end();
  const [row] = await db.query<{ at: Date }>("SELECT (current_date + 10)::timestamptz AS at");
  if (!row) throw new Error("unreachable");
  expiresIn10Days = row.at;

  await insert(
    "sync_runs",
    [T1, T2, T3].map((started, i) => ({
      id: i + 1,
      started_at: started,
      finished_at: started,
      status: "succeeded",
      complete: true,
    })),
  );
  await insert("customers", [
    customer("c-fail", "Failing Org", 2),
    customer("c-issues", "Issues Org", 4),
    customer("c-ok", "Working Org", 1),
    customer("c-exception", "Exception Org", 5),
    customer("c-gone", "Gone Org", 2, T3),
  ]);
  // c-fail turned Failed in run 2; c-gone was removed in run 3.
  await insert("customer_status_history", [
    {
      customer_id: "c-fail",
      job_status: 1,
      management_mode: 1,
      removed: false,
      ...period(RUN1, RUN2),
    },
    { customer_id: "c-fail", job_status: 2, management_mode: 1, removed: false, ...period(RUN2) },
    { customer_id: "c-issues", job_status: 4, management_mode: 1, removed: false, ...period(RUN1) },
    { customer_id: "c-ok", job_status: 1, management_mode: 1, removed: false, ...period(RUN1) },
    {
      customer_id: "c-exception",
      job_status: 5,
      management_mode: 1,
      removed: false,
      ...period(RUN1),
    },
    {
      customer_id: "c-gone",
      job_status: 2,
      management_mode: 1,
      removed: false,
      ...period(RUN1, RUN3),
    },
    { customer_id: "c-gone", job_status: 2, management_mode: 1, removed: true, ...period(RUN3) },
  ]);

  // Subscriptions: the identity's absent parts stored as ''.
  const seats = (purchased: number, expiration: string | Date, contractEnd: string | null) => ({
    purchased_user_seats: purchased,
    expiration_date: expiration,
    contract_end_date: contractEnd,
  });
  const m365 = {
    customer_id: "c-fail",
    service: "Cloud Backup for Microsoft 365",
    source: "AvePoint subscription",
    subscription_name: "",
  };
  const fly = {
    customer_id: "c-fail",
    service: "Fly Migration to Google",
    source: "",
    subscription_name: "Fly A",
  };
  const pooled = {
    customer_id: "c-issues",
    service: "Cloud Backup for IaaS + PaaS - Unit",
    source: "AvePoint pooled subscription",
    subscription_name: "",
  };
  await insert("subscriptions", [
    {
      ...m365,
      subscription_model: "Per user",
      ...seats(12, expiresIn10Days, CONTRACT_END),
      payment_type: "Prepaid",
      source_record: JSON.stringify({ service: m365.service }),
      first_seen_at: T1,
      last_seen_at: T3,
    },
    { ...fly, source_record: "{}", first_seen_at: T1, last_seen_at: T2, removed_at: T3 },
    { ...pooled, source_record: "{}", first_seen_at: T1, last_seen_at: T3 },
  ]);
  await insert("subscription_history", [
    {
      ...m365,
      subscription_model: "Per user",
      ...seats(10, OLD_EXPIRATION, null),
      payment_type: "Prepaid",
      removed: false,
      ...period(RUN1, RUN2),
    },
    {
      ...m365,
      subscription_model: "Per user",
      ...seats(12, expiresIn10Days, CONTRACT_END),
      payment_type: "Prepaid",
      removed: false,
      ...period(RUN2),
    },
    { ...fly, removed: false, ...period(RUN1, RUN3) },
    { ...fly, removed: true, ...period(RUN3) },
    { ...pooled, removed: false, ...period(RUN1) },
  ]);

  // Backup jobs: j1 ran then failed; j2 finished; j4 failed to start, of a type and module
  // this version does not know; j6 has a status it does not know; c-ok's j5 failed;
  // c-exception's j7 finished with exception, its j8 was skipped (5: failing only for customers).
  await insert("backup_jobs", [
    job("c-fail", "j1", 3, { first_seen_at: T1, end_time: T2, name: "Groups" }),
    job("c-fail", "j2", 2, { first_seen_at: T1 }),
    job("c-fail", "j4", 7, { first_seen_at: T2, job_type: 99, job_module: 999 }),
    job("c-fail", "j6", 42, { first_seen_at: T3 }),
    job("c-ok", "j5", 3, { first_seen_at: T1 }),
    job("c-exception", "j7", 4, { first_seen_at: T1 }),
    job("c-exception", "j8", 5, { first_seen_at: T1 }),
  ]);
  await insert("backup_job_status_history", [
    { customer_id: "c-fail", job_id: "j1", status: 1, removed: false, ...period(RUN1, RUN2) },
    { customer_id: "c-fail", job_id: "j1", status: 3, removed: false, ...period(RUN2) },
    { customer_id: "c-fail", job_id: "j2", status: 2, removed: false, ...period(RUN1) },
    { customer_id: "c-fail", job_id: "j4", status: 7, removed: false, ...period(RUN2) },
    { customer_id: "c-fail", job_id: "j6", status: 42, removed: false, ...period(RUN3) },
    { customer_id: "c-ok", job_id: "j5", status: 3, removed: false, ...period(RUN1) },
    { customer_id: "c-exception", job_id: "j7", status: 4, removed: false, ...period(RUN1) },
    { customer_id: "c-exception", job_id: "j8", status: 5, removed: false, ...period(RUN1) },
  ]);

  await insert("sync_run_resources", [
    { run_id: 3, resource: "customers", outcome: "complete", requests: 4, records: 4 },
    {
      run_id: 3,
      resource: "services",
      outcome: "skipped",
      reason: "permission elements.license.read.all missing",
      requests: 1,
      records: 0,
    },
    {
      run_id: 3,
      resource: "jobs",
      outcome: "partial",
      reason: "jobs of 1 customer could not be read",
      requests: 6,
      records: 5,
      rejected: 1,
    },
  ]);
});

afterAll(async () => {
  await db.drop();
});

describe("reporting.services", () => {
  it("lists present subscriptions, an absent identity part as null, with days until expiration", async () => {
    const rows = await db.query(
      `SELECT customer_id, organization, service, source, subscription_name,
              subscription_model, purchased_user_seats, payment_type, expiration_date,
              contract_end_date, days_until_expiration, first_seen_at, last_seen_at
       FROM reporting.services ORDER BY customer_id, service`,
    );
    expect(rows).toEqual([
      {
        customer_id: "c-fail",
        organization: "Failing Org",
        service: "Cloud Backup for Microsoft 365",
        source: "AvePoint subscription",
        subscription_name: null,
        subscription_model: "Per user",
        purchased_user_seats: 12,
        payment_type: "Prepaid",
        expiration_date: expiresIn10Days,
        contract_end_date: at(CONTRACT_END),
        days_until_expiration: 10,
        first_seen_at: at(T1),
        last_seen_at: at(T3),
      },
      {
        customer_id: "c-issues",
        organization: "Issues Org",
        service: "Cloud Backup for IaaS + PaaS - Unit",
        source: "AvePoint pooled subscription",
        subscription_name: null,
        subscription_model: null,
        purchased_user_seats: null,
        payment_type: null,
        expiration_date: null,
        contract_end_date: null,
        days_until_expiration: null,
        first_seen_at: at(T1),
        last_seen_at: at(T3),
      },
    ]);
  });
});

describe("reporting.service_changes", () => {
  it("gives presence rows and one row per changed attribute, times in UTC whatever the session's zone", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query("SET TimeZone = 'America/Los_Angeles'");
      const { rows } = await client.query(
        `SELECT customer_id, organization, service, source, subscription_name, field,
                old_value, new_value, changed_at, run_id
         FROM reporting.service_changes ORDER BY run_id, service, field`,
      );
      const fly = {
        customer_id: "c-fail",
        organization: "Failing Org",
        service: "Fly Migration to Google",
        source: null,
        subscription_name: "Fly A",
      };
      const m365 = {
        customer_id: "c-fail",
        organization: "Failing Org",
        service: "Cloud Backup for Microsoft 365",
        source: "AvePoint subscription",
        subscription_name: null,
      };
      const pooled = {
        customer_id: "c-issues",
        organization: "Issues Org",
        service: "Cloud Backup for IaaS + PaaS - Unit",
        source: "AvePoint pooled subscription",
        subscription_name: null,
      };
      const seen = { field: "presence", old_value: null, new_value: "present" };
      const run = (id: number, iso: string) => ({ changed_at: at(iso), run_id: id });
      expect(rows).toEqual([
        { ...pooled, ...seen, ...run(1, T1) },
        { ...m365, ...seen, ...run(1, T1) },
        { ...fly, ...seen, ...run(1, T1) },
        {
          ...m365,
          field: "contract_end_date",
          old_value: null,
          new_value: "2027-01-01T12:30:00.5Z",
          ...run(2, T2),
        },
        {
          ...m365,
          field: "expiration_date",
          old_value: "2026-09-26T00:00:00Z",
          new_value: expiresIn10Days.toISOString().replace(".000Z", "Z"),
          ...run(2, T2),
        },
        { ...m365, field: "purchased_user_seats", old_value: "10", new_value: "12", ...run(2, T2) },
        { ...fly, field: "presence", old_value: "present", new_value: "removed", ...run(3, T3) },
      ]);
    } finally {
      await client.end();
    }
  });
});

describe("reporting.backup_jobs", () => {
  it("lists every job with labels, null for codes this version does not know", async () => {
    const rows = await db.query(
      `SELECT customer_id, organization, job_id, job_type, job_type_label, job_module,
              job_module_label, status, status_label, name, total_count, failed_count,
              end_time, first_seen_at, last_seen_at
       FROM reporting.backup_jobs ORDER BY customer_id, job_id`,
    );
    const m365Groups = {
      job_type: 7,
      job_type_label: "Microsoft 365",
      job_module: 304,
      job_module_label: "Microsoft 365 Groups",
      total_count: "2323",
      failed_count: "5",
      last_seen_at: at(T3),
    };
    const failing = { customer_id: "c-fail", organization: "Failing Org" };
    const exception = { customer_id: "c-exception", organization: "Exception Org" };
    expect(rows).toEqual([
      {
        ...exception,
        ...m365Groups,
        job_id: "j7",
        status: 4,
        status_label: "Finished with exception",
        name: null,
        end_time: null,
        first_seen_at: at(T1),
      },
      {
        ...exception,
        ...m365Groups,
        job_id: "j8",
        status: 5,
        status_label: "Skipped",
        name: null,
        end_time: null,
        first_seen_at: at(T1),
      },
      {
        ...failing,
        ...m365Groups,
        job_id: "j1",
        status: 3,
        status_label: "Failed",
        name: "Groups",
        end_time: at(T2),
        first_seen_at: at(T1),
      },
      {
        ...failing,
        ...m365Groups,
        job_id: "j2",
        status: 2,
        status_label: "Finished",
        name: null,
        end_time: null,
        first_seen_at: at(T1),
      },
      {
        ...failing,
        ...m365Groups,
        job_id: "j4",
        job_type: 99,
        job_type_label: null,
        job_module: 999,
        job_module_label: null,
        status: 7,
        status_label: "Failed to start",
        name: null,
        end_time: null,
        first_seen_at: at(T2),
      },
      {
        ...failing,
        ...m365Groups,
        job_id: "j6",
        status: 42,
        status_label: null,
        name: null,
        end_time: null,
        first_seen_at: at(T3),
      },
      {
        customer_id: "c-ok",
        organization: "Working Org",
        ...m365Groups,
        job_id: "j5",
        status: 3,
        status_label: "Failed",
        name: null,
        end_time: null,
        first_seen_at: at(T1),
      },
    ]);
  });
});

describe("reporting.backup_job_status_changes", () => {
  it("gives a first sighting with a null old status, then each change", async () => {
    const rows = await db.query(
      `SELECT job_id, old_status, old_status_label, new_status, new_status_label, changed_at,
              run_id, organization
       FROM reporting.backup_job_status_changes WHERE customer_id = 'c-fail'
       ORDER BY run_id, job_id`,
    );
    const org = { organization: "Failing Org" };
    expect(rows).toEqual([
      {
        job_id: "j1",
        old_status: null,
        old_status_label: null,
        new_status: 1,
        new_status_label: "Running",
        changed_at: at(T1),
        run_id: 1,
        ...org,
      },
      {
        job_id: "j2",
        old_status: null,
        old_status_label: null,
        new_status: 2,
        new_status_label: "Finished",
        changed_at: at(T1),
        run_id: 1,
        ...org,
      },
      {
        job_id: "j1",
        old_status: 1,
        old_status_label: "Running",
        new_status: 3,
        new_status_label: "Failed",
        changed_at: at(T2),
        run_id: 2,
        ...org,
      },
      {
        job_id: "j4",
        old_status: null,
        old_status_label: null,
        new_status: 7,
        new_status_label: "Failed to start",
        changed_at: at(T2),
        run_id: 2,
        ...org,
      },
      {
        job_id: "j6",
        old_status: null,
        old_status_label: null,
        new_status: 42,
        new_status_label: null,
        changed_at: at(T3),
        run_id: 3,
        ...org,
      },
    ]);
  });
});

describe("reporting.failing_customers", () => {
  // Every failing customer job status (2, 4, 5) and backup-job status (3, 4, 7) appears, so a
  // code missing from either list in the view fails here.
  it("gives each present failing customer with each failing job, or one row without a job", async () => {
    const rows = await db.query(
      `SELECT customer_id, organization, job_status, job_status_label, job_status_since,
              job_id, job_type, job_type_label, job_module, job_module_label, status,
              status_label, status_since, name, failed_count, total_count, end_time,
              last_seen_at
       FROM reporting.failing_customers ORDER BY customer_id, job_id`,
    );
    const failing = {
      customer_id: "c-fail",
      organization: "Failing Org",
      job_status: 2,
      job_status_label: "Failed",
      job_status_since: at(T2),
    };
    expect(rows).toEqual([
      {
        customer_id: "c-exception",
        organization: "Exception Org",
        job_status: 5,
        job_status_label: "Finished with Exception",
        job_status_since: at(T1),
        job_id: "j7",
        job_type: 7,
        job_type_label: "Microsoft 365",
        job_module: 304,
        job_module_label: "Microsoft 365 Groups",
        status: 4,
        status_label: "Finished with exception",
        status_since: at(T1),
        name: null,
        failed_count: "5",
        total_count: "2323",
        end_time: null,
        last_seen_at: at(T3),
      },
      {
        ...failing,
        job_id: "j1",
        job_type: 7,
        job_type_label: "Microsoft 365",
        job_module: 304,
        job_module_label: "Microsoft 365 Groups",
        status: 3,
        status_label: "Failed",
        status_since: at(T2),
        name: "Groups",
        failed_count: "5",
        total_count: "2323",
        end_time: at(T2),
        last_seen_at: at(T3),
      },
      {
        ...failing,
        job_id: "j4",
        job_type: 99,
        job_type_label: null,
        job_module: 999,
        job_module_label: null,
        status: 7,
        status_label: "Failed to start",
        status_since: at(T2),
        name: null,
        failed_count: "5",
        total_count: "2323",
        end_time: null,
        last_seen_at: at(T3),
      },
      {
        customer_id: "c-issues",
        organization: "Issues Org",
        job_status: 4,
        job_status_label: "Multiple Issues Found",
        job_status_since: at(T1),
        job_id: null,
        job_type: null,
        job_type_label: null,
        job_module: null,
        job_module_label: null,
        status: null,
        status_label: null,
        status_since: null,
        name: null,
        failed_count: null,
        total_count: null,
        end_time: null,
        last_seen_at: null,
      },
    ]);
  });
});

describe("reporting.sync_run_resources", () => {
  it("gives each resource of a run with the run's start and status", async () => {
    const rows = await db.query(
      "SELECT * FROM reporting.sync_run_resources ORDER BY run_id, resource",
    );
    const run = { run_id: 3, started_at: at(T3), run_status: "succeeded" };
    expect(rows).toEqual([
      {
        ...run,
        resource: "customers",
        outcome: "complete",
        reason: null,
        requests: 4,
        records: 4,
        rejected: 0,
      },
      {
        ...run,
        resource: "jobs",
        outcome: "partial",
        reason: "jobs of 1 customer could not be read",
        requests: 6,
        records: 5,
        rejected: 1,
      },
      {
        ...run,
        resource: "services",
        outcome: "skipped",
        reason: "permission elements.license.read.all missing",
        requests: 1,
        records: 0,
        rejected: 0,
      },
    ]);
  });

  it("refuses an outcome without a reason, or a reason for a complete one", async () => {
    const refused = async (row: Record<string, unknown>) =>
      insert("sync_run_resources", [row]).then(
        () => undefined,
        (error: unknown) => (error as { constraint?: string }).constraint,
      );
    const base = { run_id: 1, requests: 0, records: 0 };
    expect(await refused({ ...base, resource: "jobs", outcome: "skipped" })).toBe(
      "sync_run_resources_reason_check",
    );
    expect(await refused({ ...base, resource: "jobs", outcome: "complete", reason: "why" })).toBe(
      "sync_run_resources_reason_check",
    );
    expect(await refused({ ...base, resource: "tenants", outcome: "complete" })).toBe(
      "sync_run_resources_resource_check",
    );
  });
});

describe("backup jobs are never removed", () => {
  it("refuses a removed job or a removed status period", async () => {
    const constraint = (sql: string) =>
      db.query(sql).then(
        () => undefined,
        (error: unknown) => (error as { constraint?: string }).constraint,
      );
    expect(await constraint(`UPDATE backup_jobs SET removed_at = now() WHERE job_id = 'j2'`)).toBe(
      "backup_jobs_never_removed",
    );
    expect(
      await constraint(`UPDATE backup_job_status_history SET removed = true WHERE job_id = 'j2'`),
    ).toBe("backup_job_status_history_never_removed");
  });
});

describe("moveRun (test support)", () => {
  it("moves what a run stamped in the new tables too", async () => {
    const moved = "2026-11-03T05:00:00.000Z";
    await moveRun(db, 3, at(moved));
    const stamps = await db.query(
      `SELECT (SELECT array_agg(DISTINCT last_seen_at) FROM subscriptions WHERE removed_at IS NULL) AS subscriptions_seen,
              (SELECT array_agg(DISTINCT removed_at) FROM subscriptions WHERE removed_at IS NOT NULL) AS subscriptions_removed,
              (SELECT array_agg(DISTINCT valid_from) FROM subscription_history WHERE opened_by_run_id = 3) AS subscription_periods,
              (SELECT array_agg(DISTINCT valid_to) FROM subscription_history WHERE closed_by_run_id = 3) AS subscription_closed,
              (SELECT array_agg(DISTINCT last_seen_at) FROM backup_jobs) AS jobs_seen,
              (SELECT array_agg(DISTINCT first_seen_at) FROM backup_jobs WHERE job_id = 'j6') AS job_first_seen,
              (SELECT array_agg(DISTINCT valid_from) FROM backup_job_status_history WHERE opened_by_run_id = 3) AS job_periods`,
    );
    const all = [at(moved)];
    expect(stamps).toEqual([
      {
        subscriptions_seen: all,
        subscriptions_removed: all,
        subscription_periods: all,
        subscription_closed: all,
        jobs_seen: all,
        job_first_seen: all,
        job_periods: all,
      },
    ]);
  });
});
