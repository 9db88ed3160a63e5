// One sync at a time per database. Two runs merging side by side could interleave their
// history periods; a session advisory lock held for the whole run rules that out, and
// is released by PostgreSQL itself if the process dies.
// A worker cut off from the database (a partition, a half-open connection) would keep its
// session, and the lock, until the server's TCP keepalive gives up: hours by default. So
// the lock's session ends after sessionTimeoutMs of silence (idle_session_timeout), and a
// live holder sends a heartbeat well within it, however long the run.
import type pg from "pg";
import { openSession, type Session } from "../db.ts";
import { errorMessage, SyncError } from "../errors.ts";
import type { Logger } from "../logger.ts";

/** An arbitrary application-wide key ("elements-sync run" in spirit). */
export const SYNC_LOCK_KEY = 7_268_101_100;

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

/** Heartbeats per session timeout: two may be lost or late before the session ends. */
const HEARTBEATS_PER_TIMEOUT = 3;

export async function tryAcquireSyncLock(
  pool: pg.Pool,
  options: SyncLockOptions = {},
): Promise<SyncLock | undefined> {
  const { sessionTimeoutMs, log } = options;
  const client = await openSession(pool);
  // The session's timeout would end the connection under its next user in the pool.
  const discard = sessionTimeoutMs !== undefined;
  try {
    const { rows } = await client.query<{ locked: boolean; timeout: string | null }>(
      // idle_session_timeout is PostgreSQL 14+; on older servers the subquery is empty.
      `SELECT pg_try_advisory_lock($1) AS locked,
              (SELECT set_config('idle_session_timeout', $2, false)
               FROM pg_settings WHERE name = 'idle_session_timeout') AS timeout`,
      [SYNC_LOCK_KEY, String(sessionTimeoutMs ?? 0)],
    );
    if (!rows[0]?.locked) {
      client.release(discard);
      return undefined;
    }
    if (discard && rows[0].timeout === null) {
      log?.debug(
        "the database has no idle_session_timeout (PostgreSQL < 14): a worker cut off from it keeps the sync lock until the server's TCP keepalive ends its session",
      );
    }
  } catch (error) {
    client.release(true);
    throw error;
  }
  const heartbeat =
    sessionTimeoutMs === undefined
      ? undefined
      : startHeartbeat(client, sessionTimeoutMs / HEARTBEATS_PER_TIMEOUT, log);
  return {
    async release() {
      await heartbeat?.stop();
      try {
        await client.query("SELECT pg_advisory_unlock($1)", [SYNC_LOCK_KEY]);
        client.release(discard);
      } catch {
        // The connection is gone, and the lock with it.
        client.release(true);
      }
    },
  };
}

interface Heartbeat {
  /** Resolves once no heartbeat is in flight; none is sent after. */
  stop(): Promise<void>;
}

/**
 * Keeps the lock's session from idling out. A failed heartbeat means the session, and the
 * lock, may be gone: it is logged and not retried. The run goes on; if another run takes
 * over meanwhile, claimRunForMerge refuses this one its merge.
 */
function startHeartbeat(client: Session, intervalMs: number, log?: Logger): Heartbeat {
  let inFlight: Promise<void> | undefined;
  const beat = () => {
    // A heartbeat still waiting for its answer is enough; pg would queue another behind it.
    if (inFlight) return;
    inFlight = client.query("SELECT 1").then(
      () => {
        inFlight = undefined;
      },
      (error: unknown) => {
        clearInterval(timer);
        log?.warn(
          { err: errorMessage(error) },
          "the sync lock's connection failed its heartbeat: another run may take over the database, and this run will then not merge",
        );
      },
    );
  };
  const timer = setInterval(beat, Math.max(1, Math.floor(intervalMs)));
  // The run keeps the process alive, not its heartbeat.
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
