// Staging: the customers of fetched pages are written to staging_customers under the run's
// id as they arrive, which tells paging which ids are new and shows progress from outside
// (staging rows are committed as written, scratch, and removed when the run ends); each
// write hands its records to the run's merge (run-merge.ts), which merges them, tenants
// and all, in the run's transaction meanwhile. staging_tenants is left empty since then.
import type pg from "pg";
import { openSession, type PrismaClient, type Session } from "../db.ts";
import { customerColumns, dedupeById, type AcceptedRecord } from "./records.ts";

/**
 * Writes pages to staging on one dedicated connection. Pages handed over while a write is
 * under way are written together in the next one (one round of statements for many pages),
 * so staging keeps up with any number of concurrent fetches. A customer seen twice keeps
 * the copy that arrived last, with that copy's tenant list.
 */
export interface StagingWriter {
  /**
   * Queues one page's accepted records; resolves once they are in staging, with how many of
   * their ids no earlier page had staged (what paging learns from the page).
   */
  write(records: readonly AcceptedRecord[]): Promise<number>;
  /** Resolves when nothing is queued or being written (whatever the outcome). */
  idle(): Promise<void>;
  /** Returns the connection to the pool; call after idle(). */
  close(): void;
}

interface QueuedPage {
  records: readonly AcceptedRecord[];
  done: { resolve(newIds: number): void; reject(error: unknown): void };
}

/** What staging tells of every batch it stored: the run's merge (run-merge.ts). */
export interface StagedBatchSink {
  /** Resolves when another batch may be staged; rejects once merging failed. */
  room(): Promise<void>;
  /** Takes the customers a staging write just stored (each once), to be merged. */
  staged(customers: readonly AcceptedRecord[]): void;
}

/** Where a run's writers stage, and what they tell. */
export interface StagingTarget {
  runId: number;
  /** Told of every batch stored; staging waits while it has no room. */
  merge: StagedBatchSink;
  /** Distinct customers staged so far, kept up to date by every writer. */
  counts: StagedCounts;
}

export async function openStagingWriter(
  pool: pg.Pool,
  target: StagingTarget,
): Promise<StagingWriter> {
  const { runId, merge, counts } = target;
  const connection = await openSession(pool);
  let queue: QueuedPage[] = [];
  let writing: Promise<void> | undefined;
  let failure: Error | undefined;
  // Lost between writes, the connection only says "not queryable" when next used: keep why.
  let lost: Error | undefined;
  const onConnectionError = (error: Error) => {
    lost = error;
  };
  connection.on("error", onConnectionError);

  async function writeQueued(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      // Once a write failed the run fails: later pages are refused, not half-written.
      let inserted = new Set<string>();
      if (failure === undefined) {
        try {
          // A merge that fell behind holds staging back, and so the requests; one that
          // failed fails the run with its own error.
          await merge.room();
        } catch (error) {
          failure = error instanceof Error ? error : new Error(String(error));
        }
      }
      if (failure === undefined) {
        try {
          const written = await writeBatch(
            connection,
            runId,
            batch.flatMap((page) => page.records),
          );
          inserted = written.inserted;
          counts.customers += inserted.size;
          merge.staged(written.customers);
        } catch (error) {
          failure = stagingFailure(error, lost);
        }
      }
      for (const page of batch) {
        // A new id counts for the first page of the batch that holds it.
        const newIds = page.records.filter((record) => inserted.delete(record.id)).length;
        if (failure === undefined) page.done.resolve(newIds);
        else page.done.reject(failure);
      }
    }
    writing = undefined;
  }

  return {
    write(records) {
      return new Promise<number>((resolve, reject) => {
        queue.push({ records, done: { resolve, reject } });
        writing ??= writeQueued();
      });
    },
    async idle() {
      while (writing) await writing;
    },
    close() {
      connection.off("error", onConnectionError);
      // A connection whose statement failed is discarded rather than returned to the pool.
      connection.release(failure ?? lost);
    },
  };
}

function stagingFailure(error: unknown, lostConnection: Error | undefined): Error {
  if (lostConnection) {
    return new Error(`Lost the database connection while staging pages: ${lostConnection.message}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

interface WrittenBatch {
  /** Every customer written, each once (the last copy). */
  customers: AcceptedRecord[];
  /** The ids the run had not staged before. */
  inserted: Set<string>;
}

async function writeBatch(
  connection: Session,
  runId: number,
  records: readonly AcceptedRecord[],
): Promise<WrittenBatch> {
  const customers = dedupeById(records);
  if (customers.length === 0) return { customers, inserted: new Set() };
  // One array parameter per column: one statement per batch, whatever its size. Tenants
  // and the records as sent are not staged: the merge takes them from the batch itself.
  const upsert = await connection.query<{ inserted: string[] }>(
    `WITH upserted AS (
     INSERT INTO staging_customers
       (run_id, id, organization, owner_email, job_status, country_or_region, management_mode)
     SELECT $1::int, s.*
     FROM ROWS FROM (unnest($2::text[]), unnest($3::text[]), unnest($4::text[]),
                     unnest($5::int[]), unnest($6::text[]), unnest($7::int[])) AS s
     ON CONFLICT (run_id, id) DO UPDATE SET
       organization = EXCLUDED.organization,
       owner_email = EXCLUDED.owner_email,
       job_status = EXCLUDED.job_status,
       country_or_region = EXCLUDED.country_or_region,
       management_mode = EXCLUDED.management_mode
     -- xmax is set on a row this statement updated rather than inserted.
     RETURNING id, xmax <> 0 AS replaced)
     SELECT coalesce(array_agg(id) FILTER (WHERE NOT replaced), '{}') AS inserted
     FROM upserted`,
    [runId, ...customerColumns(customers)],
  );
  return { customers, inserted: new Set(upsert.rows[0]?.inserted) };
}

export interface StagedCounts {
  customers: number;
}

/** Removes what runs `runIds` staged. Accepts a transaction client too. */
export async function clearStaging(
  db: Pick<PrismaClient, "$executeRaw">,
  runIds: readonly number[],
): Promise<void> {
  if (runIds.length === 0) return;
  await db.$executeRaw`DELETE FROM staging_tenants WHERE run_id = ANY(${runIds}::int[])`;
  await db.$executeRaw`DELETE FROM staging_customers WHERE run_id = ANY(${runIds}::int[])`;
}

/** Removes what every run staged; only while holding the sync lock, before a run starts. */
export async function clearAllStaging(db: Pick<PrismaClient, "$executeRaw">): Promise<void> {
  await db.$executeRaw`DELETE FROM staging_tenants`;
  await db.$executeRaw`DELETE FROM staging_customers`;
}
