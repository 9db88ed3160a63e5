// How the client reacts to each kind of failure, kept apart from the HTTP code so the
// rules can be read (and unit-tested) in one place.
import { CUSTOMERS_PERMISSION } from "./payload.ts";

/**
 * - `fatal`: retrying cannot help (400, 403, 404, other 4xx, a malformed body).
 * - `retry`: transient (5xx, 408, connection errors, timeouts): exponential backoff with jitter.
 * - `rate-limited`: 429: wait for Retry-After, shared by every request of the client.
 * - `unauthorized`: 401: the client fetches a new token once and repeats the request;
 *   a second 401 is fatal.
 */
export type FailureKind = "fatal" | "retry" | "rate-limited" | "unauthorized";

export class ElementsApiError extends Error {
  override name = "ElementsApiError";
  readonly kind: FailureKind;
  readonly status: number | undefined;
  /** For `rate-limited`: how long the API asked us to wait, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    details: { kind: FailureKind; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.kind = details.kind;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** JSON.parse for response bodies: a body that is not JSON is a fatal error naming `who`. */
export function parseJsonBody(text: string, who: string, status?: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ElementsApiError(`${who} answered with a body that is not JSON.`, {
      kind: "fatal",
      ...(status !== undefined ? { status } : {}),
    });
  }
}

export function classifyStatus(status: number): FailureKind | "ok" {
  if (status >= 200 && status < 300) return "ok";
  if (status === 401) return "unauthorized";
  if (status === 429) return "rate-limited";
  if (status === 408 || status >= 500) return "retry";
  return "fatal";
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date always names its weekday and month; this keeps "-3" from parsing as a year.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** A message for people: what the status means for this API and what to check. */
export function describeHttpFailure(status: number, detail: string): string {
  const suffix = detail ? `: ${detail}` : "";
  switch (status) {
    case 400:
      return `The Elements API rejected the request as invalid (400)${suffix}`;
    case 401:
      return `The Elements API refused the access token even after a new one was fetched (401)${suffix}. Check that the app registration is active.`;
    case 403:
      return `The app registration lacks the permission ${CUSTOMERS_PERMISSION} (403). Grant it under Elements > API app registration${suffix ? ` (${detail})` : ""}.`;
    case 404:
      return `The Elements API has no such endpoint (404); check ELEMENTS_REGION or ELEMENTS_API_URL${suffix}`;
    case 429:
      return `The Elements API kept throttling requests (429)${suffix}`;
    default:
      return `The Elements API answered ${status}${suffix}`;
  }
}

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
      await sleep(delay, signal);
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

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The innermost cause's message: `fetch failed` says less than `connect ECONNREFUSED …`. */
export function rootCauseMessage(error: Error): string {
  let innermost = error;
  while (innermost.cause instanceof Error) innermost = innermost.cause;
  return innermost.message;
}

/** OpenSSL's verdicts on a server certificate Node does not trust. */
const CERTIFICATE_ERROR_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
]);

/**
 * A failure for an untrusted server certificate, found anywhere in `error`'s causes. Not
 * transient: retrying would only repeat it for minutes, so it is fatal at once.
 */
export function certificateFailure(error: unknown, who: string): ElementsApiError | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === undefined || !CERTIFICATE_ERROR_CODES.has(code)) continue;
    return new ElementsApiError(
      `The TLS certificate of ${who} is not trusted (${code}). If a proxy or a private CA ` +
        `signs it, set NODE_EXTRA_CA_CERTS to that CA's PEM file; certificate checks stay on.`,
      { kind: "fatal", cause: error },
    );
  }
  return undefined;
}

/** Runs of 32+ base64(url) or JWT characters: candidates for tokens and keys. */
const TOKEN_LIKE = /[A-Za-z0-9+/_=.-]{32,}/g;

/** Random base64 mixes upper and lower case; paths, UUIDs and hex digests do not. */
function looksRandom(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run);
}

/**
 * Error bodies go into messages and logs, and a server may echo what it was sent: the
 * bearer token, the client secret. Token-like runs are cut, and so are `secrets` (as sent
 * and as form-encoded).
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret === "") continue;
    for (const form of new Set([secret, encodeURIComponent(secret), formEncoded(secret)])) {
      redacted = redacted.split(form).join("[redacted]");
    }
  }
  return redacted
    .replace(/\b(Bearer|Basic)\s+\S+/gi, "$1 [redacted]")
    .replace(TOKEN_LIKE, (run) => (looksRandom(run) ? "[redacted]" : run));
}

function formEncoded(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
