// The run's transaction as fetching fills staging: every batch the staging writer stores is
// merged (merge.ts) in one transaction, a batch at a time, while the next pages are
// fetched and staged; the end of the run then only removes what it did not see, records
// the run's success and commits. Readers see the whole run at that commit or nothing of it;
// a run that fails rolls it back. The transaction is kept alive between batches like the
// run lock's (live-transaction.ts), and ends on its own when the worker goes silent.
import type pg from "pg";
import type { Session } from "../db.ts";
import { openLiveTransaction, type LiveTransaction } from "./live-transaction.ts";
import {
  addCounts,
  beginMerge,
  listUnseen,
  mergeBatch,
  NO_CHANGES,
  removeUnseen,
  type MergeCounts,
  type MergeInput,
} from "./merge.ts";
import type { AcceptedRecord } from "./records.ts";
import type { StagedBatchSink } from "./staging.ts";

/**
 * Staged customers waiting to be merged, beyond which staging (and so fetching) waits: one
 * batch while another merges. A first run is bound by the merge; a short queue keeps what
 * is left to merge after the last page (0.3 s at 100,000 customers), and memory, small.
 */
const MAX_WAITING = 250;

/**
 * Customers staged before a batch is merged (default of RunMerge.open's minBatch): a few
 * pages' worth, so each statement does enough to be worth its round trip (pages of 5, in
 * tests, merge at the end of small runs as before).
 */
export const DEFAULT_MIN_BATCH = 250;

export class RunMerge implements StagedBatchSink {
  readonly #transaction: LiveTransaction;
  readonly #input: MergeInput;
  #waiting: AcceptedRecord[] = [];
  #merging: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;
  #counts: MergeCounts = NO_CHANGES;
  #presentBefore = 0;
  #presentSeen = 0;
  #tenantsSeen = 0;
  /** Told when a batch is merged (or merging failed). */
  #wake: (() => void)[] = [];
  readonly #minBatch: number;
  /** Set while drained() waits: whatever is staged is merged, however few. */
  #flushing = false;

  private constructor(transaction: LiveTransaction, input: MergeInput, minBatch: number) {
    this.#transaction = transaction;
    this.#input = input;
    this.#minBatch = minBatch;
  }

  /**
   * Opens the run's transaction. `idleTimeoutMs`: silence after which PostgreSQL ends it
   * (DATABASE_QUERY_TIMEOUT_MS, as for the run lock).
   */
  static async open(
    pool: pg.Pool,
    input: MergeInput,
    options: { idleTimeoutMs: number | undefined; minBatch?: number | undefined },
  ): Promise<RunMerge> {
    const transaction = await openLiveTransaction(pool, { idleTimeoutMs: options.idleTimeoutMs });
    const merge = new RunMerge(transaction, input, options.minBatch ?? DEFAULT_MIN_BATCH);
    try {
      await transaction.use(async (session) => {
        merge.#presentBefore = await beginMerge(session);
      });
    } catch (error) {
      await transaction.end();
      throw error;
    }
    return merge;
  }

  async room(): Promise<void> {
    while (this.#waiting.length > MAX_WAITING && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
    if (this.#failure) throw this.#failure.error;
  }

  staged(customers: readonly AcceptedRecord[]): void {
    if (this.#failure || customers.length === 0) return;
    this.#waiting.push(...customers);
    if (this.#waiting.length >= this.#minBatch) this.#startMerging();
  }

  /** Resolves once everything staged is merged; rejects with the failure if it was not. */
  async drained(): Promise<void> {
    this.#flushing = true;
    try {
      this.#startMerging();
      while (this.#merging) await this.#merging;
    } finally {
      this.#flushing = false;
    }
    if (this.#failure) throw this.#failure.error;
  }

  /** Present customers before the run that it has not seen: those a complete run removes. */
  unseen(): number {
    return this.#presentBefore - this.#presentSeen;
  }

  /** Tenants of the customers merged so far (each customer's last list). */
  tenantsSeen(): number {
    return this.#tenantsSeen;
  }

  /** Present before the run: the base of the mass-removal guard. */
  presentBefore(): number {
    return this.#presentBefore;
  }

  /** The unseen customers' ids; call after drained(). */
  listUnseen(): Promise<string[]> {
    return this.#transaction.use((session) => listUnseen(session, this.#input));
  }

  /**
   * Ends the run: removes what it did not see when `removeAbsent`, calls `record` with the
   * counts (to record the run's success in the same transaction) and commits.
   */
  async finish(
    removeAbsent: boolean,
    record: (session: Session, counts: MergeCounts) => Promise<void>,
  ): Promise<MergeCounts> {
    await this.drained();
    const counts = await this.#transaction.use(async (session) => {
      const removed = removeAbsent ? await removeUnseen(session, this.#input, this.unseen()) : 0;
      const total = { ...this.#counts, customersRemoved: removed };
      await record(session, total);
      return total;
    });
    await this.#transaction.commit();
    return counts;
  }

  /** Rolls back everything merged (nothing, after finish()). Never throws. */
  async abandon(): Promise<void> {
    this.#failure ??= { error: new Error("the run was abandoned") };
    await this.#merging;
    await this.#transaction.end().catch(() => undefined);
  }

  /** Why merging failed, if it did. */
  failure(): unknown {
    return this.#failure?.error;
  }

  #startMerging(): void {
    if (this.#merging !== undefined || this.#waiting.length === 0) return;
    // Cleared once settled, never before it is set (a loop with nothing to do settles at once).
    this.#merging = this.#mergeWaiting().finally(() => {
      this.#merging = undefined;
      this.#wakeAll();
    });
  }

  async #mergeWaiting(): Promise<void> {
    while (
      this.#waiting.length >= (this.#flushing ? 1 : this.#minBatch) &&
      this.#failure === undefined
    ) {
      // Batches that queued up meanwhile merge together (a customer staged twice, as last sent).
      const batch = this.#waiting;
      this.#waiting = [];
      try {
        const result = await this.#transaction.use((session) =>
          mergeBatch(session, this.#input, batch),
        );
        this.#counts = addCounts(this.#counts, result.counts);
        this.#presentSeen += result.presentSeen;
        this.#tenantsSeen += result.tenantsSeen;
      } catch (error) {
        this.#failure = { error };
      }
      this.#wakeAll();
    }
  }

  #wakeAll(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }
}
