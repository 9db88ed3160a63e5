// What a run notification reports (src/notify/notifier.ts decides when one is sent).
import type { Queryable } from "../db.ts";
import { FAILING_BACKUP_JOB_STATUSES } from "../elements/codes.ts";

/** A customer the run moved into a watched job status (src/notify/message.ts's WatchedChange). */
export interface WatchedChangeRow {
  customerId: string;
  organization: string | null;
  /** `added`, `restored` or `changed`. */
  changeKind: string;
  /** The job status label before the run; null for a customer seen for the first time. */
  previousStatus: string | null;
  status: string;
}

export interface WatchedChanges {
  /** The first `limit`, by organization. */
  listed: WatchedChangeRow[];
  total: number;
  /** Every watched job status the run moved a customer into. */
  jobStatuses: number[];
}

/**
 * The customers run `runId` moved into one of `jobStatuses`: seen for the first time, back
 * after a removal, or a new job status. One statement; the history's index on the opening
 * run finds the run's rows.
 */
export async function readWatchedChanges(
  db: Queryable,
  query: { runId: number; jobStatuses: number[]; limit: number },
): Promise<WatchedChanges> {
  const { rows } = await db.query<WatchedChanges>(
    `WITH watched AS (
       SELECT customer_id AS "customerId", organization, change_kind AS "changeKind",
              previous_job_status_label AS "previousStatus", job_status_label AS status,
              job_status
       FROM reporting.job_status_changes
       WHERE run_id = $1 AND job_status_changed AND job_status = ANY($2::int[])
     )
     SELECT (SELECT count(*)::int FROM watched) AS total,
            (SELECT coalesce(array_agg(DISTINCT job_status), '{}') FROM watched) AS "jobStatuses",
            (SELECT coalesce(json_agg(l), '[]') FROM (
               SELECT "customerId", organization, "changeKind", "previousStatus", status
               FROM watched ORDER BY organization NULLS LAST, "customerId" LIMIT $3
             ) l) AS listed`,
    [query.runId, query.jobStatuses, query.limit],
  );
  // The aggregates always return one row.
  return rows[0] ?? { listed: [], total: 0, jobStatuses: [] };
}

/** A backup job the run saw turn failing (src/notify/message.ts's FailedJob). */
export interface FailedJobRow {
  customerId: string;
  organization: string | null;
  jobId: string;
  name: string | null;
  jobModule: number;
  /** Null for a module code the code table does not know. */
  moduleLabel: string | null;
  status: number;
  statusLabel: string | null;
  /** The status before the run; null for a job seen for the first time. */
  previousStatus: number | null;
  previousStatusLabel: string | null;
}

export interface Listed<T> {
  /** The first `limit`, by organization. */
  listed: T[];
  total: number;
}

/**
 * The backup jobs run `runId` saw turn failing: a status period it opened in a failing status
 * whose previous period (closed by the same run) was not failing, or that is the job's first.
 * The history's index on valid_from finds the run's periods (a run stamps them with its start).
 */
export async function readFailedJobs(
  db: Queryable,
  query: { runId: number; limit: number },
): Promise<Listed<FailedJobRow>> {
  const { rows } = await db.query<Listed<FailedJobRow>>(
    `WITH turned AS (
       SELECT h.customer_id, h.job_id, h.status, p.status AS previous_status
       FROM sync_runs r
       JOIN backup_job_status_history h ON h.valid_from = r.started_at AND h.opened_by_run_id = r.id
       LEFT JOIN backup_job_status_history p
         ON p.customer_id = h.customer_id AND p.job_id = h.job_id AND p.valid_to = h.valid_from
       WHERE r.id = $1 AND h.status = ANY($2::int[])
         AND (p.status IS NULL OR p.status <> ALL($2::int[]))
     )
     SELECT (SELECT count(*)::int FROM turned) AS total,
            (SELECT coalesce(json_agg(l), '[]') FROM (
               SELECT t.customer_id AS "customerId", c.organization, t.job_id AS "jobId",
                      j.name, j.job_module AS "jobModule", m.label AS "moduleLabel",
                      t.status, s.label AS "statusLabel", t.previous_status AS "previousStatus",
                      ps.label AS "previousStatusLabel"
               FROM turned t
               JOIN customers c ON c.id = t.customer_id
               JOIN backup_jobs j ON j.customer_id = t.customer_id AND j.job_id = t.job_id
               LEFT JOIN backup_job_module_codes m ON m.code = j.job_module
               LEFT JOIN backup_job_status_codes s ON s.code = t.status
               LEFT JOIN backup_job_status_codes ps ON ps.code = t.previous_status
               ORDER BY c.organization NULLS LAST, t.customer_id, t.job_id
               LIMIT $3
             ) l) AS listed`,
    [query.runId, FAILING_BACKUP_JOB_STATUSES, query.limit],
  );
  return rows[0] ?? { listed: [], total: 0 };
}

/** A subscription that entered the window at the run (src/notify/message.ts's ExpiringService). */
export interface ExpiringServiceRow {
  customerId: string;
  organization: string | null;
  service: string;
  /** Null where the API gave none (stored as ''). */
  source: string | null;
  subscriptionName: string | null;
  /** The expiration day, YYYY-MM-DD in UTC. */
  expirationDate: string;
  /** Whole days from the run's start to the expiration. */
  daysLeft: number;
}

/**
 * The subscriptions present at run `runId` that expire within `days` days of its start and
 * did not at the start of the latest successful run before it (expiration date as it was
 * then, measured from then): so each enters the window once, whether time brought it there,
 * a new expiration date, or its first sighting. Both instants are read from
 * subscription_history, so an earlier run gives the same answer later.
 */
export async function readExpiringServices(
  db: Queryable,
  query: { runId: number; days: number; limit: number },
): Promise<Listed<ExpiringServiceRow>> {
  const { rows } = await db.query<Listed<ExpiringServiceRow>>(
    `WITH run AS (
       SELECT started_at AS at FROM sync_runs WHERE id = $1
     ),
     previous AS (
       SELECT max(r.started_at) AS at FROM sync_runs r, run
       WHERE r.status = 'succeeded' AND r.started_at < run.at
     ),
     -- The periods open at an instant in which the subscription was present and expiring
     -- between that instant and $2 days later.
     now_expiring AS (
       SELECT h.customer_id, h.service, h.source, h.subscription_name, h.expiration_date, run.at
       FROM subscription_history h, run
       WHERE h.valid_from <= run.at AND (h.valid_to IS NULL OR h.valid_to > run.at)
         AND NOT h.removed
         AND h.expiration_date >= run.at
         AND h.expiration_date <= run.at + make_interval(days => $2::int)
     ),
     entered AS (
       SELECT n.* FROM now_expiring n
       WHERE NOT EXISTS (
         SELECT 1 FROM subscription_history h, previous
         WHERE h.customer_id = n.customer_id AND h.service = n.service AND h.source = n.source
           AND h.subscription_name = n.subscription_name
           AND h.valid_from <= previous.at AND (h.valid_to IS NULL OR h.valid_to > previous.at)
           AND NOT h.removed
           AND h.expiration_date >= previous.at
           AND h.expiration_date <= previous.at + make_interval(days => $2::int)
       )
     )
     SELECT (SELECT count(*)::int FROM entered) AS total,
            (SELECT coalesce(json_agg(l), '[]') FROM (
               SELECT e.customer_id AS "customerId", c.organization, e.service,
                      nullif(e.source, '') AS source,
                      nullif(e.subscription_name, '') AS "subscriptionName",
                      to_char(e.expiration_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS "expirationDate",
                      floor(extract(epoch FROM e.expiration_date - e.at) / 86400)::int AS "daysLeft"
               FROM entered e
               JOIN customers c ON c.id = e.customer_id
               ORDER BY e.expiration_date, c.organization NULLS LAST, e.customer_id, e.service,
                        e.source, e.subscription_name
               LIMIT $3
             ) l) AS listed`,
    [query.runId, query.days, query.limit],
  );
  return rows[0] ?? { listed: [], total: 0 };
}
