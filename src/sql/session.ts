// Statements that shape a session or keep it alive: the run lock's transaction and the run's
// merge session (src/sync/live-transaction.ts, src/sync/merge-session.ts).
import type { Queryable } from "../db.ts";

/**
 * Silence after which PostgreSQL ends the caller's transaction (0: never). Local to the
 * transaction: the connection goes back to the pool as it came.
 */
export async function setIdleTimeout(session: Queryable, idleTimeoutMs: number): Promise<void> {
  await session.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [
    String(idleTimeoutMs),
  ]);
}

/** A statement that does nothing but tell PostgreSQL the session is alive. */
export async function heartbeat(session: Queryable): Promise<void> {
  await session.query("SELECT 1");
}
