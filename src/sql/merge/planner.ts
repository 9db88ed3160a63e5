// Planner settings of the run's transaction (SET LOCAL: they end with it).
import type { Queryable } from "../../db.ts";

const JOIN_AND_SCAN_SETTINGS = ["enable_seqscan", "enable_hashjoin", "enable_mergejoin"] as const;

/**
 * Every statement of a batch starts from the batch's rows and looks rows up by key: index
 * nested loops, whatever the planner guesses. Its statistics lag behind tables a run is
 * filling (during a first run they say "empty"), and a scan or a hash join then reads
 * every open period once per batch: quadratic in customers. Nor is a plan that takes
 * milliseconds worth compiling (JIT). The few statements that must read a whole table
 * allow scans for themselves (withSeqScans, planForWholeTables).
 */
export async function planForBatches(session: Queryable): Promise<void> {
  for (const setting of [...JOIN_AND_SCAN_SETTINGS, "jit"]) {
    await session.query(`SET LOCAL ${setting} = off`);
  }
}

/** The end of a run works on whole tables: the planner's own choices (hash joins, scans) again. */
export async function planForWholeTables(session: Queryable): Promise<void> {
  for (const setting of JOIN_AND_SCAN_SETTINGS) {
    await session.query(`SET LOCAL ${setting} = on`);
  }
}

/**
 * Runs `fn` with sequential scans allowed, and forbids them after: reading every
 * customer is what a scan is for.
 */
export async function withSeqScans<T>(session: Queryable, fn: () => Promise<T>): Promise<T> {
  await session.query("SET LOCAL enable_seqscan = on");
  try {
    return await fn();
  } finally {
    await session.query("SET LOCAL enable_seqscan = off");
  }
}
