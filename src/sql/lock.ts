// The run lock's statement (src/sync/lock.ts says why it is a table lock, not an advisory one).
import type { Queryable } from "../db.ts";

/** The object whose lock is the run lock (created by the run_lock migration). */
export const SYNC_LOCK_RELATION = "sync_run_lock";

/**
 * Takes the run lock in the caller's transaction; NOWAIT: a run that finds the database
 * busy is refused at once (SQLSTATE 55P03), never queued.
 */
export async function lockRunLock(session: Queryable): Promise<void> {
  await session.query(`LOCK TABLE ${SYNC_LOCK_RELATION} IN EXCLUSIVE MODE NOWAIT`);
}
