// A transaction kept open for a whole run, on a session of its own: the run lock's, and the
// run's merge. PostgreSQL ends such a transaction after `idleTimeoutMs` of silence
// (idle_in_transaction_session_timeout), so a worker cut off from the database (a
// partition, a half-open connection, a frozen process) frees what it holds within that
// time instead of the hours TCP keepalive takes; a live holder sends a heartbeat while idle.
import type pg from "pg";
import { openTransaction, type Session } from "../db.ts";
import { errorMessage } from "../errors.ts";
import { heartbeat, setIdleTimeout } from "../sql/session.ts";

export interface LiveTransactionOptions {
  /** Silence after which PostgreSQL ends the transaction; undefined: never. */
  idleTimeoutMs?: number | undefined;
  /** Told once when a heartbeat fails: the session, and the transaction, may be gone. */
  onHeartbeatFailure?: ((message: string) => void) | undefined;
}

export interface LiveTransaction {
  /**
   * Runs `fn` on the transaction's session; one call at a time, and no heartbeat meanwhile
   * (the session is busy, not idle).
   */
  use<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /** Commits (throws if PostgreSQL rolled back instead) and returns the session to the pool. */
  commit(): Promise<void>;
  /** Rolls back what was not committed and returns the session; safe after commit(). */
  end(): Promise<void>;
}

/** Heartbeats per idle timeout: two may be lost or late before the session ends. */
const HEARTBEATS_PER_TIMEOUT = 3;

export async function openLiveTransaction(
  pool: pg.Pool,
  options: LiveTransactionOptions = {},
): Promise<LiveTransaction> {
  const transaction = await openTransaction(pool);
  const { session } = transaction;
  try {
    await setIdleTimeout(session, options.idleTimeoutMs ?? 0);
  } catch (error) {
    await transaction.end();
    throw error;
  }
  let queue: Promise<unknown> = Promise.resolve();
  let users = 0;
  let ended = false;
  /** Why the last heartbeat failed: the session is gone, and that is why its next use fails. */
  let lost: Error | undefined;
  const heartbeat =
    options.idleTimeoutMs === undefined
      ? undefined
      : startHeartbeat(
          session,
          options.idleTimeoutMs / HEARTBEATS_PER_TIMEOUT,
          () => users > 0,
          (error) => {
            lost = error instanceof Error ? error : new Error(errorMessage(error));
            options.onHeartbeatFailure?.(lost.message);
          },
        );
  const use = <T>(fn: (session: Session) => Promise<T>): Promise<T> => {
    users += 1;
    // A heartbeat already sent is answered first: pg runs a session's queries in order.
    const result = queue.then(async () => {
      await heartbeat?.settled();
      // Not "Connection terminated" from a statement sent on the dead session: the cause.
      if (lost !== undefined) throw lost;
      return fn(session);
    });
    queue = result.then(
      () => (users -= 1),
      () => (users -= 1),
    );
    return result;
  };
  return {
    use,
    async commit() {
      await use(async () => {
        await heartbeat?.stop();
        await transaction.commit();
        ended = true;
      });
    },
    async end() {
      if (ended) return;
      ended = true;
      await heartbeat?.stop();
      await queue;
      await transaction.end();
    },
  };
}

interface Heartbeat {
  /** Resolves once no heartbeat is in flight. */
  settled(): Promise<void>;
  /** Resolves once no heartbeat is in flight; none is sent after. */
  stop(): Promise<void>;
}

/** A failed heartbeat is reported once and not retried. */
function startHeartbeat(
  session: Session,
  intervalMs: number,
  busy: () => boolean,
  onFailure: (error: unknown) => void,
): Heartbeat {
  let inFlight: Promise<void> | undefined;
  const beat = () => {
    // One still waiting for its answer is enough; a session running statements needs none.
    if (inFlight || busy()) return;
    inFlight = heartbeat(session).then(
      () => {
        inFlight = undefined;
      },
      (error: unknown) => {
        clearInterval(timer);
        onFailure(error);
      },
    );
  };
  const timer = setInterval(beat, Math.max(1, Math.floor(intervalMs)));
  // The run keeps the process alive, not its heartbeat.
  timer.unref();
  return {
    async settled() {
      await inFlight;
    },
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
