// node-cron's RunCoordinator backed by PostgreSQL: every replica of the worker fires at the
// same cron time, and the one whose INSERT of the (task, fire time) row wins runs it.
// The row is a record, not an expiring lease: a replica whose clock runs late must still
// lose, and a replica that dies mid-run blocks nothing, because the next fire is a new row.
// The run lock (src/sync/lock.ts) still keeps runs of different fires from overlapping.
import type { RunCoordinator } from "node-cron";
import type { Queryable } from "../db.ts";
import { claimFire, finishFire } from "../sql/fires.ts";

export interface FireCoordinatorOptions {
  /** The node-cron task name; node-cron's keys are `<task>:<fire time ISO>`. */
  task: string;
  /** Who claims, e.g. host:pid, recorded in sync_fires.claimed_by. */
  owner: string;
}

export function fireTimeOf(key: string, task: string): Date {
  const prefix = `${task}:`;
  const fireAt = key.startsWith(prefix) ? new Date(key.slice(prefix.length)) : new Date(NaN);
  if (Number.isNaN(fireAt.getTime())) {
    throw new Error(`unexpected node-cron coordination key "${key}" for task "${task}"`);
  }
  return fireAt;
}

export function createFireCoordinator(
  db: Queryable,
  { task, owner }: FireCoordinatorOptions,
): RunCoordinator {
  return {
    // node-cron's lease length (ttlMs) is not needed: the claim never expires.
    async shouldRun(key) {
      return claimFire(db, { task, fireAt: fireTimeOf(key, task), owner });
    },
    async onComplete(key) {
      await finishFire(db, { task, fireAt: fireTimeOf(key, task), owner });
    },
  };
}
