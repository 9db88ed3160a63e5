// The chaos mode: each request, drawn in arrival order from a seeded PRNG, gets one random
// fault with probability `rate`. The same seed and the same order of requests give the
// same faults, so a failing run can be replayed.
import { checkedInteger } from "../values.ts";
import { mulberry32 } from "./data.ts";
import { PAGE_CORRUPTIONS, type Fault, type FaultEndpoint, type PageCorruption } from "./faults.ts";

export type ChaosKind =
  /** 429 with Retry-After in seconds (0 or 1). */
  | "rate-limited"
  /** 429 with Retry-After as an HTTP date at most a second ahead. */
  | "rate-limited-date"
  /** 500, 502, 503 or 504. */
  | "server-error"
  | "reset"
  /** The real answer after `slowMs`, meant to outlast the client's timeout. */
  | "slow"
  | "forbidden"
  /** A real page spoiled (see PageCorruption). */
  | PageCorruption
  /** Every token expires just before the request is answered (a 401, then a new token). */
  | "token-expiry"
  /** On the token endpoint: 500 or 503. */
  | "token-server-error"
  | "token-reset"
  | "token-rate-limited";

const CUSTOMERS_KINDS: readonly ChaosKind[] = [
  "rate-limited",
  "rate-limited-date",
  "server-error",
  "reset",
  "slow",
  "forbidden",
  ...PAGE_CORRUPTIONS,
  "token-expiry",
];
/** The services and jobs endpoints: the customers kinds but the page corruptions. */
const RESOURCE_KINDS: readonly ChaosKind[] = CUSTOMERS_KINDS.filter(
  (kind) => !(PAGE_CORRUPTIONS as readonly ChaosKind[]).includes(kind),
);
const TOKEN_KINDS: readonly ChaosKind[] = [
  "token-server-error",
  "token-reset",
  "token-rate-limited",
];
export const CHAOS_KINDS: readonly ChaosKind[] = [...CUSTOMERS_KINDS, ...TOKEN_KINDS];

const SERVER_ERRORS = [500, 502, 503, 504] as const;

export interface ChaosOptions {
  seed: number;
  /** Probability, from 0 to 1, that a request gets a fault. */
  rate: number;
  /** The kinds to draw from (default all). */
  kinds?: readonly ChaosKind[];
  /** How long a `slow` answer takes (default 1000 ms). */
  slowMs?: number;
}

export interface ChaosFault {
  kind: ChaosKind;
  fault: Fault;
}

export class Chaos {
  readonly #random: () => number;
  readonly #rate: number;
  readonly #slowMs: number;
  readonly #kinds: Record<FaultEndpoint, readonly ChaosKind[]>;

  constructor(options: ChaosOptions) {
    if (!(options.rate >= 0 && options.rate <= 1))
      throw new RangeError(`chaos rate must be from 0 to 1, got ${options.rate}`);
    checkedInteger("chaos seed", options.seed, Number.MIN_SAFE_INTEGER);
    const kinds = options.kinds ?? CHAOS_KINDS;
    for (const kind of kinds) {
      if (!CHAOS_KINDS.includes(kind)) throw new RangeError(`unknown chaos kind ${kind}`);
    }
    this.#random = mulberry32(options.seed);
    this.#rate = options.rate;
    this.#slowMs = checkedInteger("chaos slowMs", options.slowMs ?? 1000, 0);
    this.#kinds = {
      customers: kinds.filter((kind) => CUSTOMERS_KINDS.includes(kind)),
      services: kinds.filter((kind) => RESOURCE_KINDS.includes(kind)),
      jobs: kinds.filter((kind) => RESOURCE_KINDS.includes(kind)),
      token: kinds.filter((kind) => TOKEN_KINDS.includes(kind)),
    };
  }

  /** The fault for the next request to `endpoint`, or undefined for a real answer. */
  next(endpoint: FaultEndpoint): ChaosFault | undefined {
    const kinds = this.#kinds[endpoint];
    if (this.#random() >= this.#rate || kinds.length === 0) return undefined;
    const kind = this.#pick(kinds);
    return { kind, fault: this.#faultOf(kind) };
  }

  #faultOf(kind: ChaosKind): Fault {
    switch (kind) {
      case "rate-limited":
        return { status: 429, retryAfter: String(this.#int(2)) };
      case "rate-limited-date":
        // HTTP dates count whole seconds: this one is 0 to 1 s ahead.
        return { status: 429, retryAfter: new Date(Date.now() + 1000).toUTCString() };
      case "server-error":
        return { status: this.#pick(SERVER_ERRORS) };
      case "reset":
        return { reset: true };
      case "slow":
        return { delayMs: this.#slowMs };
      case "forbidden":
        return { status: 403 };
      case "truncated-json":
      case "wrong-shape":
      case "missing-id":
      case "wrong-type":
      case "unknown-code":
      case "duplicate":
        return { corrupt: kind, record: this.#int(1000) };
      case "token-expiry":
        return { expireTokens: true };
      case "token-server-error":
        return { endpoint: "token", status: this.#pick([500, 503]) };
      case "token-reset":
        return { endpoint: "token", reset: true };
      case "token-rate-limited":
        return { endpoint: "token", status: 429, retryAfter: String(this.#int(2)) };
    }
  }

  #int(maxExclusive: number): number {
    return Math.floor(this.#random() * maxExclusive);
  }

  #pick<T>(items: readonly T[]): T {
    const item = items[this.#int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}
