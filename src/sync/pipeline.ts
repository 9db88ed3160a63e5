// The one way a record reaches the database, for pages and lookups by id alike:
//
//   add(page) ─▶ checked records ─▶ staged ids ───────────▶ batches ──────▶ merged
//                records.ts checks, staging_customers:      ≥ minMergeBatch  in the run's one
//                unknown codes,     which ids are new,       customers        transaction
//                new fields         progress from outside                     (merge-session.ts)
//
// One bounded queue runs through it: add() waits while it holds `capacity` customers not
// yet merged, the one place where fetching waits for the database. Staging and merging each
// run on a session of their own, one statement at a time, so the next pages are staged
// while a batch merges; pages that queue up meanwhile are staged together, and whatever was
// staged while a batch merged is the next batch. Everything keeps the order in which pages
// were added: a customer served twice is merged from its last copy.
import type pg from "pg";
import { openSession, type Session } from "../db.ts";
import type { Logger } from "../logger.ts";
import { recordSeen } from "../sql/staging.ts";
import { addCounts, NO_CHANGES, type MergeCounts } from "./merge.ts";
import type { MergeSession } from "./merge-session.ts";
import {
  checkRecords,
  UnknownCodeReporter,
  type AcceptedRecord,
  type CheckedPage,
} from "./records.ts";
import type { FetchProgress } from "./runs.ts";
import { NewFieldReporter } from "./source-records.ts";

export interface PipelineOptions {
  runId: number;
  log: Logger;
  /** Customers staged before a batch is merged; fewer only when drained. */
  minMergeBatch: number;
  /** Customers added but not yet merged beyond which add() waits. */
  capacity: number;
}

/** What came in so far: the counts a run records, succeeded or failed. */
export interface IngestTally extends Omit<FetchProgress, "newFields"> {
  merged: MergeCounts;
  /** Customers merged that were present before the run (each once). */
  presentSeen: number;
}

/** What add() tells of a page once its ids are staged. */
export interface StagedPage {
  /** Records that passed the checks. */
  accepted: number;
  /** Ids of them no earlier page of the run had. */
  newIds: number;
}

interface Entry {
  records: readonly AcceptedRecord[];
  onStaged: ((page: StagedPage) => void) | undefined;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #merge: MergeSession;
  /** Where the ids the run has seen are staged: committed as written, visible from outside. */
  readonly #stager: Session;
  /** Aborted, with the error, once staging or merging failed. */
  readonly #failure = new AbortController();
  readonly #unknownCodes: UnknownCodeReporter;
  readonly #newFields = new NewFieldReporter();
  /** Pages checked, waiting to be staged. */
  #toStage: Entry[] = [];
  /** Customers staged, waiting to be merged. */
  #toMerge: AcceptedRecord[] = [];
  /** Customers added and not yet merged (those merging included): the queue's length. */
  #held = 0;
  #staging: Promise<void> | undefined;
  #merging: Promise<void> | undefined;
  /** Set while drained() waits: whatever is staged is merged, however few. */
  #flushing = false;
  #closed = false;
  /** Lost between statements, the session only says "not queryable" when next used: keep why. */
  #lost: Error | undefined;
  /** Told whenever the queue moves (or fails). */
  #wake: (() => void)[] = [];
  #tally: IngestTally = {
    apiTotalCount: null,
    pagesFetched: 0,
    customersSeen: 0,
    tenantsSeen: 0,
    rejectedRecords: 0,
    merged: NO_CHANGES,
    presentSeen: 0,
  };

  private constructor(options: PipelineOptions, merge: MergeSession, stager: Session) {
    this.#options = options;
    this.#merge = merge;
    this.#stager = stager;
    this.#unknownCodes = new UnknownCodeReporter(options.log);
    stager.on("error", this.#onConnectionError);
  }

  static async open(
    pool: pg.Pool,
    merge: MergeSession,
    options: PipelineOptions,
  ): Promise<Pipeline> {
    return new Pipeline(options, merge, await openSession(pool));
  }

  /** Aborts once the pipeline failed, with its error: the run's requests stop with it. */
  get failed(): AbortSignal {
    return this.#failure.signal;
  }

  /** A page (or a lookup's request) was answered, saying totalCount. */
  answered(totalCount: number | null, requests = 1): void {
    this.#tally.pagesFetched += requests;
    this.#tally.apiTotalCount = totalCount;
  }

  /**
   * Checks `data` (the records of page `pageIndex`) and queues what passed, first waiting
   * while the queue is full. Returns the check's verdict; `onStaged` is told once the
   * page's ids are staged. Rejects once the pipeline failed, or when `signal` aborts.
   */
  async add(
    pageIndex: number,
    data: readonly unknown[],
    options: { signal?: AbortSignal | undefined; onStaged?: (page: StagedPage) => void } = {},
  ): Promise<CheckedPage> {
    const checked = checkRecords(pageIndex, data);
    for (const record of checked.rejected) {
      this.#options.log.warn(record, "rejected a customer record");
    }
    this.#tally.rejectedRecords += checked.rejected.length;
    this.#unknownCodes.check(checked.accepted);
    this.#newFields.check(checked.accepted);
    // A page always enters an empty queue, whatever its size.
    while (this.#held > 0 && this.#held + checked.accepted.length > this.#options.capacity) {
      this.#throwIfStopped();
      await this.#moved(options.signal);
    }
    this.#throwIfStopped();
    this.#toStage.push({ records: checked.accepted, onStaged: options.onStaged });
    this.#held += checked.accepted.length;
    this.#staging ??= this.#stageQueued().finally(() => {
      this.#staging = undefined;
      this.#wakeAll();
    });
    return checked;
  }

  /** Resolves once everything added is merged, with the tally; rejects if it was not. */
  async drained(): Promise<IngestTally> {
    this.#flushing = true;
    try {
      for (;;) {
        this.#throwIfStopped();
        this.#startMerging();
        const busy = this.#staging ?? this.#merging;
        if (busy === undefined) break;
        await busy;
      }
    } finally {
      this.#flushing = false;
    }
    return this.tally();
  }

  tally(): IngestTally {
    return { ...this.#tally };
  }

  /** The fields outside the documented set the run met; warns of them once. */
  newFields(): string[] {
    return this.#newFields.announce(this.#options.log);
  }

  /** Stops the queue, waits for the statement in flight and returns the session. Never throws. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeAll();
    while (this.#staging ?? this.#merging) await (this.#staging ?? this.#merging);
    this.#stager.off("error", this.#onConnectionError);
    // A session whose statement failed is ended rather than returned to the pool.
    const failure: unknown = this.#failure.signal.reason;
    this.#stager.release(failure instanceof Error ? failure : this.#lost);
  }

  async #stageQueued(): Promise<void> {
    try {
      while (this.#toStage.length > 0 && !this.#stopped()) {
        const entries = this.#toStage;
        this.#toStage = [];
        const ids = new Set(entries.flatMap((entry) => entry.records.map((record) => record.id)));
        const fresh = new Set(ids.size > 0 ? await this.#stage([...ids]) : []);
        this.#tally.customersSeen += fresh.size;
        for (const { records, onStaged } of entries) {
          // A new id counts for the first page that holds it.
          const newIds = records.filter((record) => fresh.delete(record.id)).length;
          onStaged?.({ accepted: records.length, newIds });
          for (const record of records) this.#toMerge.push(record);
        }
        this.#startMerging();
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  async #stage(ids: string[]): Promise<string[]> {
    try {
      return await recordSeen(this.#stager, this.#options.runId, ids);
    } catch (error) {
      throw this.#lost ? lostConnection(this.#lost) : error;
    }
  }

  #startMerging(): void {
    if (this.#merging !== undefined || !this.#mergeDue()) return;
    this.#merging = this.#mergeBatches().finally(() => {
      this.#merging = undefined;
      this.#wakeAll();
    });
  }

  #mergeDue(): boolean {
    const due = this.#flushing ? 1 : this.#options.minMergeBatch;
    return this.#toMerge.length >= due && !this.#stopped();
  }

  async #mergeBatches(): Promise<void> {
    while (this.#mergeDue()) {
      const batch = this.#toMerge;
      this.#toMerge = [];
      try {
        const result = await this.#merge.merge(batch);
        this.#tally.merged = addCounts(this.#tally.merged, result.counts);
        this.#tally.presentSeen += result.presentSeen;
        this.#tally.tenantsSeen += result.tenantsSeen;
      } catch (error) {
        this.#fail(error);
        return;
      }
      this.#held -= batch.length;
      this.#wakeAll();
    }
  }

  #stopped(): boolean {
    return this.#closed || this.#failure.signal.aborted;
  }

  #throwIfStopped(): void {
    this.#failure.signal.throwIfAborted();
    if (this.#closed) throw new Error("the run's pipeline is closed");
  }

  #fail(error: unknown): void {
    if (!this.#failure.signal.aborted) this.#failure.abort(error);
    this.#wakeAll();
  }

  /** Resolves when the queue next moves; rejects when `signal` aborts first. */
  #moved(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const onAbort = () => {
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#wake.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  #wakeAll(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }

  readonly #onConnectionError = (error: Error) => {
    this.#lost = error;
  };
}

function lostConnection(lost: Error): Error {
  return new Error(`Lost the database connection while staging pages: ${lost.message}`);
}
