// staging_customers: the record of what a run has seen, one row per distinct customer id
// (UNLOGGED scratch, committed as written, so progress shows from outside the run). It tells
// paging which ids a page added; the records themselves go to the merge from memory.
import type { Queryable } from "../db.ts";

/** Records `ids` as seen by run `runId`; returns those it had not seen before. */
export async function recordSeen(
  session: Queryable,
  runId: number,
  ids: readonly string[],
): Promise<string[]> {
  const { rows } = await session.query<{ id: string }>(
    `INSERT INTO staging_customers (run_id, id)
     SELECT $1::int, unnest($2::text[])
     ON CONFLICT (run_id, id) DO NOTHING
     RETURNING id`,
    [runId, ids],
  );
  return rows.map((row) => row.id);
}

/** Drops what runs `runIds` recorded. */
export async function clearStaging(session: Queryable, runIds: readonly number[]): Promise<void> {
  await session.query("DELETE FROM staging_customers WHERE run_id = ANY($1::int[])", [runIds]);
}

/** Drops what every run recorded; only while holding the run lock, before a run starts. */
export async function clearAllStaging(session: Queryable): Promise<void> {
  await session.query("DELETE FROM staging_customers");
}

/**
 * Empties staging in the succeeding run's transaction: it holds only this run's rows (one
 * run at a time), and TRUNCATE takes no time whatever their number.
 */
export async function truncateStaging(session: Queryable): Promise<void> {
  await session.query("TRUNCATE staging_customers");
}
