// What a run changed, kind by kind, for its summary: counted from reporting.attribute_changes,
// the one definition of an attribute change (the history periods the run opened, each beside
// the period it closed), so the summary and BI tools count the same rows.
import type { Queryable } from "../db.ts";

/** Attribute changes a run recorded; customers added, removed and restored are the run's own counts. */
export interface ChangeCounts {
  jobStatus: number;
  managementMode: number;
  ownerEmail: number;
  organization: number;
  countryOrRegion: number;
  tenantsAdded: number;
  tenantsRenamed: number;
  tenantsRemoved: number;
  tenantsRestored: number;
}

/**
 * The changes run `runId` recorded. Found by start time (the periods a run opens start at its
 * start; indexed) and then by run id; read after the run committed.
 */
export async function countRunChanges(
  db: Queryable,
  { runId }: { runId: number },
): Promise<ChangeCounts> {
  const { rows } = await db.query<ChangeCounts>(
    `SELECT
       count(*) FILTER (WHERE entity = 'customer' AND field = 'job_status')::int AS "jobStatus",
       count(*) FILTER (WHERE entity = 'customer' AND field = 'management_mode')::int AS "managementMode",
       count(*) FILTER (WHERE entity = 'customer' AND field = 'owner_email')::int AS "ownerEmail",
       count(*) FILTER (WHERE entity = 'customer' AND field = 'organization')::int AS organization,
       count(*) FILTER (WHERE entity = 'customer' AND field = 'country_or_region')::int AS "countryOrRegion",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'presence' AND old_value IS NULL)::int
         AS "tenantsAdded",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'name')::int AS "tenantsRenamed",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'presence' AND new_value = 'removed')::int
         AS "tenantsRemoved",
       count(*) FILTER (WHERE entity = 'tenant' AND field = 'presence' AND old_value = 'removed')::int
         AS "tenantsRestored"
     FROM reporting.attribute_changes
     WHERE changed_at = (SELECT started_at FROM sync_runs WHERE id = $1::integer)
       AND run_id = $1::integer`,
    [runId],
  );
  const [row] = rows;
  if (!row) throw new Error("counting a run's changes returned no row");
  return row;
}
