// One sync at a time per database. Two runs merging side by side could interleave their
// history periods; a session advisory lock held for the whole run rules that out, and
// is released by PostgreSQL itself if the process dies.
import type pg from "pg";
import { SyncError } from "../errors.ts";

/** An arbitrary application-wide key ("elements-sync run" in spirit). */
export const SYNC_LOCK_KEY = 7_268_101_100;

/** Another run holds the lock; the message names it when it can. */
export class RunInProgressError extends SyncError {
  override name = "RunInProgressError";
}

export interface SyncLock {
  release(): Promise<void>;
}

export async function tryAcquireSyncLock(pool: pg.Pool): Promise<SyncLock | undefined> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock($1) AS locked",
      [SYNC_LOCK_KEY],
    );
    if (!rows[0]?.locked) {
      client.release();
      return undefined;
    }
  } catch (error) {
    client.release(true);
    throw error;
  }
  return {
    async release() {
      try {
        await client.query("SELECT pg_advisory_unlock($1)", [SYNC_LOCK_KEY]);
        client.release();
      } catch {
        // The connection is gone, and the lock with it.
        client.release(true);
      }
    },
  };
}
