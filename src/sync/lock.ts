// One sync at a time per database. Two runs merging side by side could interleave their
// history periods; a lock held for the whole run rules that out, and is released by
// PostgreSQL itself if the process dies.
// The lock is a table-level lock on the view sync_run_lock, taken in EXCLUSIVE mode inside
// a transaction that stays open for the run. Not an advisory lock: any login, the read-only
// reporting role included, can take any advisory key and so keep every run from starting,
// while locking sync_run_lock in EXCLUSIVE mode needs a privilege on it that only the role
// that migrated the database has (see the run_lock migration).
// A worker cut off from the database (a partition, a half-open connection) would keep its
// session, and the lock, until the server's TCP keepalive gives up: hours by default. So
// the lock's transaction ends after sessionTimeoutMs of silence
// (idle_in_transaction_session_timeout), and a live holder sends a heartbeat well within
// it, however long the run.
import type pg from "pg";
import { errorMessage, SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { lockRunLock, SYNC_LOCK_RELATION } from "../sql/lock.ts";
import { openLiveTransaction } from "./live-transaction.ts";

export { SYNC_LOCK_RELATION } from "../sql/lock.ts";

/** Another run holds the lock; the message names it when it can. */
export class RunInProgressError extends SyncError {
  override name = "RunInProgressError";
}

export interface SyncLock {
  release(): Promise<void>;
}

export interface SyncLockOptions {
  /**
   * Silence after which PostgreSQL ends the lock's session, freeing the lock for another
   * run; the holder sends a heartbeat every third of it. Undefined: the session lives as
   * long as its connection.
   */
  sessionTimeoutMs?: number | undefined;
  log?: Logger | undefined;
}

/** SQLSTATEs of the lock attempt that say something to the operator. */
const LOCK_NOT_AVAILABLE = "55P03";
const INSUFFICIENT_PRIVILEGE = "42501";
const UNDEFINED_TABLE = "42P01";

export async function tryAcquireSyncLock(
  pool: pg.Pool,
  options: SyncLockOptions = {},
): Promise<SyncLock | undefined> {
  const { sessionTimeoutMs, log } = options;
  // A failed heartbeat means the session, and the lock, may be gone: it is logged and not
  // retried. The run goes on; if another run takes over meanwhile, this one does not merge.
  const transaction = await openLiveTransaction(pool, {
    idleTimeoutMs: sessionTimeoutMs,
    onHeartbeatFailure: (message) =>
      log?.warn(
        { err: message },
        "the sync lock's connection failed its heartbeat: another run may take over the database, and this run will then not merge",
      ),
  });
  try {
    await transaction.use(lockRunLock);
  } catch (error) {
    await transaction.end();
    const code = (error as { code?: unknown } | null)?.code;
    if (code === LOCK_NOT_AVAILABLE) return undefined;
    throw lockFailure(code, error);
  }
  return { release: () => transaction.end() };
}

/** Why the lock could not even be tried, in terms of what to do about it. */
function lockFailure(code: unknown, error: unknown): unknown {
  if (code === INSUFFICIENT_PRIVILEGE) {
    return new SyncError(
      `This database user may not take the run lock (${errorMessage(error)}): sync as the user ` +
        `that migrated the database, or grant this one UPDATE on ${SYNC_LOCK_RELATION}.`,
      { cause: error },
    );
  }
  if (code === UNDEFINED_TABLE) {
    return new SyncError(
      `The database has no ${SYNC_LOCK_RELATION}: it is not migrated to this version of ` +
        "elements-sync. Run `elements-sync migrate` (or sync without --no-migrate).",
      { cause: error },
    );
  }
  return error;
}
