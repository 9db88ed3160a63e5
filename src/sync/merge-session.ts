// The run's merge session: its one transaction, open from before the first batch until the
// run commits. Every batch the pipeline hands over is merged in it (merge.ts) while the
// next pages are fetched; the end of the run removes what it did not see, records the run's
// success and commits. Readers see the whole run at that commit or nothing of it; a run
// that fails rolls it back. The transaction is kept alive between batches like the run
// lock's (live-transaction.ts), and ends on its own when the worker goes silent.
import type pg from "pg";
import type { Session } from "../db.ts";
import { openLiveTransaction, type LiveTransaction } from "./live-transaction.ts";
import {
  beginMerge,
  listUnseen,
  mergeBatch,
  removeCollectedSubscriptions,
  removeUnseen,
  type BatchResult,
  type Before,
  type MergeInput,
} from "./merge.ts";
import type { AcceptedRecord } from "./records.ts";

export class MergeSession {
  readonly input: MergeInput;
  /** Customers present (not removed) before the run: the base of the mass-removal guard. */
  readonly presentBefore: number;
  /** No customer was stored before the run (removed ones included): its first run. */
  readonly emptyBefore: boolean;
  readonly #transaction: LiveTransaction;

  private constructor(transaction: LiveTransaction, input: MergeInput, before: Before) {
    this.#transaction = transaction;
    this.input = input;
    this.presentBefore = before.present;
    this.emptyBefore = before.empty;
  }

  /**
   * Opens the run's transaction. `idleTimeoutMs`: silence after which PostgreSQL ends it
   * (DATABASE_QUERY_TIMEOUT_MS, as for the run lock).
   */
  static async open(
    pool: pg.Pool,
    input: MergeInput,
    idleTimeoutMs: number | undefined,
  ): Promise<MergeSession> {
    const transaction = await openLiveTransaction(pool, { idleTimeoutMs });
    try {
      // beginMerge also sets the planner up for batches (src/sql/merge/planner.ts).
      const before = await transaction.use((session) => beginMerge(session));
      return new MergeSession(transaction, input, before);
    } catch (error) {
      await transaction.end();
      throw error;
    }
  }

  /** Merges one batch (a customer in it twice: its last copy); `allNew`: see mergeBatch. */
  merge(records: readonly AcceptedRecord[], allNew = false): Promise<BatchResult> {
    return this.#transaction.use((session) => mergeBatch(session, this.input, records, allNew));
  }

  /** Runs `work` in the run's transaction, after what was handed over before it. */
  use<T>(work: (session: Session) => Promise<T>): Promise<T> {
    return this.#transaction.use(work);
  }

  /** The ids of customers present before the run that it has not merged, in order. */
  listUnseen(): Promise<string[]> {
    return this.#transaction.use((session) => listUnseen(session, this.input));
  }

  /**
   * Ends the run: removes the `unseen` customers when `removeAbsent`, calls `record` with
   * how many it removed (to record the run's success in the same transaction) and commits.
   */
  async finish<T>(
    removal: { removeAbsent: boolean; unseen: number },
    record: (session: Session, customersRemoved: number) => Promise<T>,
  ): Promise<T> {
    const recorded = await this.#transaction.use(async (session) => {
      const removed = removal.removeAbsent
        ? await removeUnseen(session, this.input, removal.unseen)
        : 0;
      await removeCollectedSubscriptions(session, this.input);
      return record(session, removed);
    });
    await this.#transaction.commit();
    return recorded;
  }

  /** Rolls back everything merged (nothing, after finish()). Never throws. */
  async abandon(): Promise<void> {
    await this.#transaction.end().catch(() => undefined);
  }
}
