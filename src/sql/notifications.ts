// What a run notification reports (src/notify/notifier.ts decides when one is sent).
import type { Queryable } from "../db.ts";

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
