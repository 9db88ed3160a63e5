// The request gate every request of a client passes: one shared pause for a 429's
// Retry-After, and a limit on requests in flight that halves on throttling and grows back
// (AIMD).
import { setTimeout as sleep } from "node:timers/promises";

/**
 * One pause shared by every request of a client: a 429 on any request holds back all of
 * them until its Retry-After has passed, instead of each request backing off on its own.
 *
 * It also paces: after a throttled answer the number of requests allowed in flight halves
 * (down to one), and grows by one after each run of that many successes (AIMD, as TCP
 * does). Until the first throttling there is no limit of its own; the caller's worker
 * pool bounds concurrency.
 */
export class RequestGate {
  #openAt = 0;
  #inFlight = 0;
  #limit = Number.POSITIVE_INFINITY;
  #successes = 0;
  /** Bumped at every decrease: answers to requests sent before it do not decrease again. */
  #epoch = 0;
  readonly #waiting = new Set<() => void>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Requests allowed in flight now (Infinity until the API first throttles). */
  get limit(): number {
    return this.#limit;
  }

  pauseFor(ms: number): void {
    this.#openAt = Math.max(this.#openAt, this.#now() + ms);
  }

  /** Resolves when no pause is in force. */
  async wait(signal?: AbortSignal): Promise<void> {
    for (let delay = this.#openAt - this.#now(); delay > 0; delay = this.#openAt - this.#now()) {
      await sleep(delay, undefined, { signal });
    }
  }

  /**
   * Waits for the pause to end and for a free slot under the limit; the caller must
   * `release` the slot when its answer has come (or failed), saying how it went.
   */
  async acquire(signal?: AbortSignal): Promise<GateSlot> {
    for (;;) {
      await this.wait(signal);
      if (this.#inFlight < this.#limit) break;
      await this.#slotFreed(signal);
    }
    this.#inFlight += 1;
    const epoch = this.#epoch;
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.#inFlight -= 1;
        if (outcome === "throttled") this.#throttled(epoch);
        else if (outcome === "ok") this.#succeeded(epoch);
        for (const wake of this.#waiting) wake();
      },
    };
  }

  #throttled(epoch: number): void {
    this.#successes = 0;
    // Several requests sent together are often throttled together: decrease once for them.
    if (epoch !== this.#epoch) return;
    this.#epoch += 1;
    const current = Math.min(this.#limit, this.#inFlight + 1);
    this.#limit = Math.max(1, Math.floor(current / 2));
  }

  #succeeded(epoch: number): void {
    // Answers to requests sent before the last decrease say nothing about the new pace.
    if (this.#limit === Number.POSITIVE_INFINITY || epoch !== this.#epoch) return;
    this.#successes += 1;
    if (this.#successes >= this.#limit) {
      this.#successes = 0;
      this.#limit += 1;
    }
  }

  #slotFreed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const wake = () => {
        this.#waiting.delete(wake);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiting.delete(wake);
        reject(signal?.reason as Error);
      };
      this.#waiting.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** One request's place under the gate's limit. */
export interface GateSlot {
  /** `ok`: a good answer; `throttled`: a 429; `other`: any other failure. */
  release(outcome: "ok" | "throttled" | "other"): void;
}

/**
 * A limit on requests in flight that a caller shares among its requests (a run's
 * ELEMENTS_CONCURRENCY): the client takes a slot for each attempt and calls the release it
 * got once, when the answer's body has arrived (before parsing it) or else when the attempt
 * ends.
 */
export interface InFlightSlots {
  acquire(signal?: AbortSignal): Promise<() => void>;
}
