// The sync_runs row: every run has one from its start, and it ends succeeded, failed or
// abandoned with a reason. Other tables change only in a succeeded run's merge.
import type { PrismaClient } from "../db.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { clearStaging } from "./staging.ts";

export type RunStatus = "running" | "succeeded" | "failed" | "abandoned";

export interface StartedRun {
  id: number;
  startedAt: Date;
}

/** What a run learned while fetching; recorded whether it succeeds or fails. */
export interface FetchProgress {
  apiTotalCount: number | null;
  pagesFetched: number;
  customersSeen: number;
  tenantsSeen: number;
  rejectedRecords: number;
}

export interface RunOutcome extends FetchProgress {
  complete: boolean;
  incompleteReason: string | null;
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
}

export async function startRun(
  prisma: PrismaClient,
  customerFilter: string | null,
): Promise<StartedRun> {
  const run = await prisma.syncRun.create({
    data: { customerFilter },
    select: { id: true, startedAt: true },
  });
  return run;
}

/** Called inside the merge transaction, so the row says succeeded exactly when the merge committed. */
export async function recordSuccess(
  tx: Prisma.TransactionClient,
  runId: number,
  outcome: RunOutcome,
): Promise<void> {
  await tx.syncRun.update({
    where: { id: runId },
    data: { ...outcome, status: "succeeded", finishedAt: new Date() },
  });
}

export async function recordFailure(
  prisma: PrismaClient,
  runId: number,
  progress: FetchProgress,
  error: string,
): Promise<void> {
  await prisma.$transaction(async (tx) => {
    await tx.syncRun.update({
      where: { id: runId },
      data: { ...progress, status: "failed", finishedAt: new Date(), error },
    });
    await clearStaging(tx, [runId]);
  });
}

/**
 * Marks runs left `running` by a process that died as abandoned and drops what they
 * staged. Only safe while holding the sync lock: then no other run can be in progress.
 */
export async function abandonStaleRuns(prisma: PrismaClient): Promise<number[]> {
  return prisma.$transaction(async (tx) => {
    const stale = await tx.$queryRaw<{ id: number }[]>`
      UPDATE sync_runs
      SET status = 'abandoned', finished_at = now(),
          error = 'the process running it stopped before the run finished'
      WHERE status = 'running'
      RETURNING id`;
    const ids = stale.map((row) => row.id);
    await clearStaging(tx, ids);
    return ids;
  });
}
