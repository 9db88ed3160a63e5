// sync_fires: the claims of scheduled fires (src/worker/coordinator.ts says why a claim is a
// row that never expires).
import type { Queryable } from "../db.ts";

/** Claimed fires are kept this long, then pruned by later claims. */
const KEEP_FIRES = "90 days";

/**
 * Claims the task's fire at `fireAt` for `owner`: true for the one replica whose insert
 * wins, false for every other. Prunes the task's old claims in the same statement.
 */
export async function claimFire(
  db: Queryable,
  fire: { task: string; fireAt: Date; owner: string },
): Promise<boolean> {
  const { rows } = await db.query<{ claimed: boolean }>(
    `WITH pruned AS (
       DELETE FROM sync_fires
       WHERE task = $1 AND fire_at < $2::timestamptz - $4::interval
     )
     INSERT INTO sync_fires (task, fire_at, claimed_by)
     VALUES ($1, $2::timestamptz, $3)
     ON CONFLICT (task, fire_at) DO NOTHING
     RETURNING true AS claimed`,
    [fire.task, fire.fireAt, fire.owner, KEEP_FIRES],
  );
  return rows.length > 0;
}

/** Records when the owner's run of a claimed fire finished. */
export async function finishFire(
  db: Queryable,
  fire: { task: string; fireAt: Date; owner: string },
): Promise<void> {
  await db.query(
    `UPDATE sync_fires SET finished_at = clock_timestamp()
     WHERE task = $1 AND fire_at = $2::timestamptz AND claimed_by = $3`,
    [fire.task, fire.fireAt, fire.owner],
  );
}
