// The one way a record reaches the database, for pages and lookups by id alike:
//
//   add(page) ─▶ checked records ─▶ staged ids ───────────▶ batches ──────▶ merged
//                records.ts checks, staging_customers:      ≥ minMergeBatch  in the run's one
//                unknown codes,     which ids are new,       customers        transaction
//                new fields         progress from outside                     (merge-session.ts)
//
// One bounded queue runs through it: add() waits while it holds `capacity` customers not
// yet merged, or `byteBudget` bytes of the pages they came in (a few huge records a page
// must not hold more memory than the start-up check allowed for), the one place where
// fetching waits for the database. Staging and merging each run on a session of their
// own, one statement at a time, so the next pages are staged while a batch merges; pages
// that queue up meanwhile are staged together, and whatever was staged while a batch
// merged is the next batch (or sooner, at half the byte budget). Everything keeps the
// order in which pages were added: a customer served twice is merged from its last copy.
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
  /**
   * Bytes of response body (of the pages whose records are added but not yet merged)
   * beyond which add() waits: queuedBytesBudget, which the start-up check counts on.
   */
  byteBudget: number;
}

/** What add() takes of a page (or of a lookup's answer). */
export interface PageContent {
  data: readonly unknown[];
  /** Its response bodies' size: what its records are counted as against byteBudget. */
  bodyBytes: number;
  /** Its envelopes' unknown fields, recorded among the run's new fields. */
  envelopeFields: readonly string[];
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
  /** Body bytes the records are counted as. */
  bytes: number;
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
  /** Customers staged, waiting to be merged, and their pages' bytes. */
  #toMerge: AcceptedRecord[] = [];
  #toMergeBytes = 0;
  /** Of them, those staged before (earlier in the run or twice in their pages). */
  #toMergeRepeats = 0;
  /** Customers added and not yet merged (those merging included): the queue's length. */
  #held = 0;
  /** Their pages' bytes, and the most that were ever held at once. */
  #heldBytes = 0;
  #peakHeldBytes = 0;
  /** add() calls waiting for bytes: the next batch is due however few customers it has. */
  #waitingForBytes = 0;
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
   * Checks `page.data` (the records of page `pageIndex`) and queues what passed, first
   * waiting while the queue is full. Returns the check's verdict; `onStaged` is told once
   * the page's ids are staged. Rejects once the pipeline failed, or when `signal` aborts.
   */
  async add(
    pageIndex: number,
    page: PageContent,
    options: { signal?: AbortSignal | undefined; onStaged?: (page: StagedPage) => void } = {},
  ): Promise<CheckedPage> {
    const checked = checkRecords(pageIndex, page.data);
    for (const record of checked.rejected) {
      this.#options.log.warn(record, "rejected a customer record");
    }
    this.#tally.rejectedRecords += checked.rejected.length;
    this.#unknownCodes.check(checked.accepted);
    this.#newFields.check(checked.accepted);
    this.#newFields.checkEnvelope(page.envelopeFields);
    const count = checked.accepted.length;
    // Rejected records are dropped here: a page with none accepted holds nothing.
    const bytes = count > 0 ? page.bodyBytes : 0;
    await this.#reserve(count, bytes, options.signal);
    this.#throwIfStopped();
    this.#toStage.push({ records: checked.accepted, bytes, onStaged: options.onStaged });
    this.#staging ??= this.#stageQueued().finally(() => {
      this.#staging = undefined;
      this.#wakeAll();
    });
    return checked;
  }

  /**
   * Waits until `count` customers and `bytes` fit in the queue, and counts them in it at
   * once (pages woken together must not each see the same room). A page always enters an
   * empty queue, whatever its size.
   */
  async #reserve(count: number, bytes: number, signal: AbortSignal | undefined): Promise<void> {
    const { capacity, byteBudget } = this.#options;
    for (;;) {
      this.#throwIfStopped();
      const overBytes = this.#heldBytes + bytes > byteBudget;
      if (this.#held === 0 || (!overBytes && this.#held + count <= capacity)) {
        this.#held += count;
        this.#heldBytes += bytes;
        this.#peakHeldBytes = Math.max(this.#peakHeldBytes, this.#heldBytes);
        return;
      }
      if (!overBytes) {
        await this.#moved(signal);
        continue;
      }
      // Customers may be short of a batch: the bytes are what must go.
      this.#waitingForBytes += 1;
      this.#startMerging();
      try {
        await this.#moved(signal);
      } finally {
        this.#waitingForBytes -= 1;
      }
    }
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
        for (const { records, bytes, onStaged } of entries) {
          // A new id counts for the first page that holds it.
          const newIds = records.filter((record) => fresh.delete(record.id)).length;
          this.#toMergeRepeats += records.length - newIds;
          onStaged?.({ accepted: records.length, newIds });
          for (const record of records) this.#toMerge.push(record);
          this.#toMergeBytes += bytes;
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

  /**
   * A batch is due at minMergeBatch customers, or at half the byte budget (the other half
   * fills while it merges), or as soon as a page waits for bytes; any when drained.
   */
  #mergeDue(): boolean {
    if (this.#stopped() || this.#toMerge.length === 0) return false;
    if (this.#flushing || this.#waitingForBytes > 0) return true;
    return (
      this.#toMerge.length >= this.#options.minMergeBatch ||
      this.#toMergeBytes * 2 >= this.#options.byteBudget
    );
  }

  async #mergeBatches(): Promise<void> {
    while (this.#mergeDue()) {
      const batch = this.#toMerge;
      const bytes = this.#toMergeBytes;
      // Into an empty database, customers the run had not staged before are stored nowhere.
      const allNew = this.#merge.emptyBefore && this.#toMergeRepeats === 0;
      this.#toMerge = [];
      this.#toMergeBytes = 0;
      this.#toMergeRepeats = 0;
      try {
        const result = await this.#merge.merge(batch, allNew);
        this.#tally.merged = addCounts(this.#tally.merged, result.counts);
        this.#tally.presentSeen += result.presentSeen;
        this.#tally.tenantsSeen += result.tenantsSeen;
      } catch (error) {
        this.#fail(error);
        return;
      }
      this.#options.log.debug(
        {
          customers: batch.length,
          allNew,
          bytes,
          peakHeldBytes: this.#peakHeldBytes,
          byteBudget: this.#options.byteBudget,
        },
        "batch merged",
      );
      this.#held -= batch.length;
      this.#heldBytes -= bytes;
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
