// What the worker's /healthz and /metrics read besides the runs (src/sql/runs.ts).
import type { Queryable } from "../db.ts";

/** Answers when the database takes a statement; /healthz's check. */
export async function pingDatabase(db: Queryable): Promise<void> {
  await db.query("SELECT 1");
}

export interface JobStatusCount {
  jobStatus: number;
  /** Null for a code job_status_codes does not know. */
  label: string | null;
  customers: number;
}

/** Present (not removed) customers per job status: elements_sync_customers. */
export async function countCustomersByJobStatus(db: Queryable): Promise<JobStatusCount[]> {
  const { rows } = await db.query<JobStatusCount>(
    `SELECT c.job_status AS "jobStatus", s.label, count(*)::int AS customers
     FROM customers c LEFT JOIN job_status_codes s ON s.code = c.job_status
     WHERE c.removed_at IS NULL
     GROUP BY c.job_status, s.label`,
  );
  return rows;
}

export interface ResourceOutcome {
  resource: string;
  outcome: string;
}

/**
 * What the last finished run (succeeded or failed) got of each resource it synced:
 * elements_sync_last_run_resource_outcome.
 */
export async function readLastRunResources(db: Queryable): Promise<ResourceOutcome[]> {
  const { rows } = await db.query<ResourceOutcome>(
    `SELECT resource, outcome FROM sync_run_resources
     WHERE run_id = (SELECT max(id) FROM sync_runs WHERE status IN ('succeeded', 'failed'))`,
  );
  return rows;
}
