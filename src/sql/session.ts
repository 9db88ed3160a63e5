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

/**
 * Every statement of a batch starts from the batch's rows and looks rows up by key: index
 * nested loops, whatever the planner guesses. Its statistics lag behind tables a run is
 * filling (during a first run they say "empty"), and a scan or a hash join then reads
 * every open period once per batch: quadratic in customers. Nor is a plan that takes
 * milliseconds worth compiling (JIT). The few statements that must read a whole table
 * allow scans for themselves (merge.ts). Local to the transaction.
 */
export async function planForBatches(session: Queryable): Promise<void> {
  await session.query(
    `SELECT set_config(name, 'off', true)
     FROM unnest(ARRAY['enable_seqscan', 'enable_hashjoin', 'enable_mergejoin', 'jit']) AS name`,
  );
}
