// Subscriptions, backup jobs and run resources written straight into a migrated database the
// way the merge writes them: a run row stamps everything it changes with its started_at, an
// entity's open period is closed by the run that opens the next, and a period opens only when
// something tracked differs. For tests of what reads these tables (notifications, the
// dashboard, status, the demo, README's queries) that must not depend on what the simulator
// derives or on the sync.
import { openDatabase, type Database } from "../../src/db.ts";
import { migrate } from "../../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { captureLogs } from "./harness.ts";

type Db = Pick<TestDatabase, "query">;

export interface FixtureRun {
  id: number;
  startedAt: Date;
}

/**
 * A finished run, started `at` (default: now, and after every run so far), as the sync leaves
 * a run that succeeded or failed.
 */
export async function insertRun(
  db: Db,
  run: { status?: "succeeded" | "failed"; at?: Date } = {},
): Promise<FixtureRun> {
  const status = run.status ?? "succeeded";
  const [row] = await db.query<FixtureRun>(
    `INSERT INTO sync_runs (started_at, finished_at, status, complete, error)
     SELECT s.at, s.at + interval '1 second', $2, $2 = 'succeeded',
            CASE WHEN $2 = 'failed' THEN 'fixture failure' END
     FROM (SELECT coalesce($1::timestamptz, greatest(date_trunc('milliseconds', clock_timestamp()),
             (SELECT max(started_at) + interval '1 millisecond' FROM sync_runs))) AS at) s
     RETURNING id, started_at AS "startedAt"`,
    [run.at ?? null, status],
  );
  if (!row) throw new Error("sync_runs insert returned no row");
  return row;
}

/** A customer as `run` saw it: its row and, when its status changed, a status period. */
export async function observeCustomer(
  db: Db,
  run: FixtureRun,
  customer: { id: string; organization: string | null; jobStatus: number },
): Promise<void> {
  await db.query(
    `INSERT INTO customers (id, organization, job_status, management_mode, first_seen_at, last_seen_at)
     VALUES ($1, $2, $3, 1, $4, $4)
     ON CONFLICT (id) DO UPDATE SET organization = $2, job_status = $3, last_seen_at = $4,
       removed_at = NULL`,
    [customer.id, customer.organization, customer.jobStatus, run.startedAt],
  );
  // Closed when it differs, then opened when none is open: two statements, as the unique
  // index on open periods checks each row as it is written.
  await db.query(
    `UPDATE customer_status_history SET valid_to = $3, closed_by_run_id = $4
     WHERE customer_id = $1 AND valid_to IS NULL AND (job_status <> $2 OR removed)`,
    [customer.id, customer.jobStatus, run.startedAt, run.id],
  );
  await db.query(
    `INSERT INTO customer_status_history
       (customer_id, job_status, management_mode, removed, valid_from, opened_by_run_id)
     SELECT $1, $2, 1, false, $3, $4
     WHERE NOT EXISTS (SELECT 1 FROM customer_status_history
                       WHERE customer_id = $1 AND valid_to IS NULL)`,
    [customer.id, customer.jobStatus, run.startedAt, run.id],
  );
}

export interface FixtureJob {
  customerId: string;
  jobId: string;
  status: number;
  name?: string | null;
  jobModule?: number;
  jobType?: number;
  failedCount?: number | null;
}

/** A backup job as `run` listed it: its current row and, when its status changed, a period. */
export async function observeJob(db: Db, run: FixtureRun, job: FixtureJob): Promise<void> {
  const record = { jobId: job.jobId, status: job.status, name: job.name ?? null };
  await db.query(
    `INSERT INTO backup_jobs (customer_id, job_id, status, job_type, job_module, name,
                              failed_count, source_record, first_seen_at, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
     ON CONFLICT (customer_id, job_id) DO UPDATE SET status = $3, job_type = $4, job_module = $5,
       name = $6, failed_count = $7, source_record = $8, last_seen_at = $9`,
    [
      job.customerId,
      job.jobId,
      job.status,
      job.jobType ?? 0,
      job.jobModule ?? 355,
      job.name ?? null,
      job.failedCount ?? null,
      record,
      run.startedAt,
    ],
  );
  await db.query(
    `UPDATE backup_job_status_history SET valid_to = $4, closed_by_run_id = $5
     WHERE customer_id = $1 AND job_id = $2 AND valid_to IS NULL AND status <> $3`,
    [job.customerId, job.jobId, job.status, run.startedAt, run.id],
  );
  await db.query(
    `INSERT INTO backup_job_status_history
       (customer_id, job_id, status, removed, valid_from, opened_by_run_id)
     SELECT $1, $2, $3, false, $4, $5
     WHERE NOT EXISTS (SELECT 1 FROM backup_job_status_history
                       WHERE customer_id = $1 AND job_id = $2 AND valid_to IS NULL)`,
    [job.customerId, job.jobId, job.status, run.startedAt, run.id],
  );
}

export interface FixtureSubscription {
  customerId: string;
  service: string;
  /** '' for none, as the key column stores it. */
  source?: string;
  subscriptionName?: string;
  expirationDate?: Date | null;
  purchasedUserSeats?: number | null;
}

/**
 * A subscription as `run` saw it (or, `removed`, found it gone): its current row and, when
 * its seats, expiration or presence changed, a period. The other attributes stay NULL.
 */
export async function observeSubscription(
  db: Db,
  run: FixtureRun,
  subscription: FixtureSubscription,
  removed = false,
): Promise<void> {
  const key = [
    subscription.customerId,
    subscription.service,
    subscription.source ?? "",
    subscription.subscriptionName ?? "",
  ];
  const seats = subscription.purchasedUserSeats ?? null;
  const expiration = subscription.expirationDate ?? null;
  await db.query(
    `INSERT INTO subscriptions (customer_id, service, source, subscription_name,
                                purchased_user_seats, expiration_date, source_record,
                                first_seen_at, last_seen_at, removed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, CASE WHEN $9 THEN $8::timestamptz END)
     ON CONFLICT (customer_id, service, source, subscription_name) DO UPDATE SET
       purchased_user_seats = $5, expiration_date = $6, source_record = $7,
       last_seen_at = CASE WHEN $9 THEN subscriptions.last_seen_at ELSE $8 END,
       removed_at = CASE WHEN $9 THEN $8::timestamptz END`,
    [...key, seats, expiration, { service: subscription.service }, run.startedAt, removed],
  );
  const open = `customer_id = $1 AND service = $2 AND source = $3 AND subscription_name = $4
                AND valid_to IS NULL`;
  await db.query(
    `UPDATE subscription_history SET valid_to = $8, closed_by_run_id = $9
     WHERE ${open}
       AND (purchased_user_seats IS DISTINCT FROM $5::int
            OR expiration_date IS DISTINCT FROM $6::timestamptz OR removed <> $7::boolean)`,
    [...key, seats, expiration, removed, run.startedAt, run.id],
  );
  await db.query(
    `INSERT INTO subscription_history
       (customer_id, service, source, subscription_name, purchased_user_seats, expiration_date,
        removed, valid_from, opened_by_run_id)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
     WHERE NOT EXISTS (SELECT 1 FROM subscription_history WHERE ${open})`,
    [...key, seats, expiration, removed, run.startedAt, run.id],
  );
}

export interface FixtureResource {
  resource: "customers" | "services" | "jobs";
  outcome: "complete" | "partial" | "skipped";
  reason?: string | null;
  requests: number;
  records: number;
  rejected?: number;
}

/** What run `runId` got of each resource; replaces what a sync recorded for it, if anything. */
export async function recordResources(
  db: Db,
  runId: number,
  resources: readonly FixtureResource[],
): Promise<void> {
  for (const r of resources) {
    await db.query(
      `INSERT INTO sync_run_resources (run_id, resource, outcome, reason, requests, records, rejected)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (run_id, resource) DO UPDATE SET outcome = $3, reason = $4, requests = $5,
         records = $6, rejected = $7`,
      [runId, r.resource, r.outcome, r.reason ?? null, r.requests, r.records, r.rejected ?? 0],
    );
  }
}

/** A database of its own, migrated by the real migrator, closed and dropped by `close`. */
export async function migratedDatabase(): Promise<{
  db: TestDatabase;
  database: Database;
  close: () => Promise<void>;
}> {
  const db = await createTestDatabase();
  const database = openDatabase(db.url);
  try {
    await migrate(database.pool, { log: captureLogs().logger });
  } catch (error) {
    await database.close();
    await db.drop();
    throw error;
  }
  return {
    db,
    database,
    close: async () => {
      await database.close();
      await db.drop();
    },
  };
}
