// node-cron's RunCoordinator backed by PostgreSQL: every replica of the worker fires at the
// same cron time, and the one whose INSERT of the (task, fire time) row wins runs it.
// The row is a record, not an expiring lease: a replica whose clock runs late must still
// lose, and a replica that dies mid-run blocks nothing, because the next fire is a new row.
// The run lock (src/sync/lock.ts) still keeps runs of different fires from overlapping.
import type { RunCoordinator } from "node-cron";
import type { PrismaClient } from "../db.ts";

export interface FireCoordinatorOptions {
  /** The node-cron task name; node-cron's keys are `<task>:<fire time ISO>`. */
  task: string;
  /** Who claims, e.g. host:pid, recorded in sync_fires.claimed_by. */
  owner: string;
}

/** Claimed fires are kept this long, then pruned by later claims. */
const KEEP_FIRES = "90 days";

export function fireTimeOf(key: string, task: string): Date {
  const prefix = `${task}:`;
  const fireAt = key.startsWith(prefix) ? new Date(key.slice(prefix.length)) : new Date(NaN);
  if (Number.isNaN(fireAt.getTime())) {
    throw new Error(`unexpected node-cron coordination key "${key}" for task "${task}"`);
  }
  return fireAt;
}

export function createFireCoordinator(
  prisma: PrismaClient,
  { task, owner }: FireCoordinatorOptions,
): RunCoordinator {
  return {
    // node-cron's lease length (ttlMs) is not needed: the claim never expires.
    async shouldRun(key) {
      const fireAt = fireTimeOf(key, task);
      const claimed = await prisma.$queryRaw<{ claimed: boolean }[]>`
        WITH pruned AS (
          DELETE FROM sync_fires
          WHERE task = ${task} AND fire_at < ${fireAt}::timestamptz - ${KEEP_FIRES}::interval
        )
        INSERT INTO sync_fires (task, fire_at, claimed_by)
        VALUES (${task}, ${fireAt}::timestamptz, ${owner})
        ON CONFLICT (task, fire_at) DO NOTHING
        RETURNING true AS claimed`;
      return claimed.length > 0;
    },
    async onComplete(key) {
      const fireAt = fireTimeOf(key, task);
      await prisma.$executeRaw`
        UPDATE sync_fires SET finished_at = clock_timestamp()
        WHERE task = ${task} AND fire_at = ${fireAt}::timestamptz AND claimed_by = ${owner}`;
    },
  };
}
