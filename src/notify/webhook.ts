// One POST of a JSON body to the notification webhook, retried with p-retry within a hard
// time bound, so a receiver that is down or never answers holds nothing up for long.
// Failures are described without the URL, which is a secret.
import pRetry, { AbortError } from "p-retry";

export interface DeliveryLimits {
  /** One attempt's limit, connection and answer included. */
  attemptTimeoutMs: number;
  /** Everything, retries and their pauses included. */
  totalTimeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Pause before the first retry; doubled for each further one. */
  firstRetryDelayMs: number;
}

export const DEFAULT_DELIVERY_LIMITS: DeliveryLimits = {
  attemptTimeoutMs: 5_000,
  totalTimeoutMs: 10_000,
  retries: 2,
  firstRetryDelayMs: 500,
};

/** Why a delivery failed, in words that never contain the URL. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
}

/**
 * Resolves once the receiver answered 2xx; rejects with a DeliveryError after the last
 * attempt, at the latest `totalTimeoutMs` after the call (or when `signal` aborts). 429 and
 * 5xx answers, timeouts and connection errors are retried; other answers are not.
 */
export async function postJson(
  url: string,
  body: unknown,
  limits: DeliveryLimits,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = AbortSignal.timeout(limits.totalTimeoutMs);
  const stop = signal ? AbortSignal.any([deadline, signal]) : deadline;
  const payload = JSON.stringify(body);
  const attempt = async () => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
        signal: AbortSignal.any([stop, AbortSignal.timeout(limits.attemptTimeoutMs)]),
      });
    } catch (error) {
      if (stop.aborted) throw new AbortError(new DeliveryError(describeStop(stop, signal, limits)));
      throw new DeliveryError(describeFetchError(error, limits));
    }
    // The answer's body is of no use, and may be large or never end.
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return;
    const failure = new DeliveryError(`the receiver answered HTTP ${response.status}`);
    if (response.status === 429 || response.status >= 500) throw failure;
    throw new AbortError(failure);
  };
  try {
    await pRetry(attempt, {
      retries: limits.retries,
      minTimeout: limits.firstRetryDelayMs,
      factor: 2,
      randomize: true,
      signal: stop,
    });
  } catch (error) {
    // p-retry rethrows the abort reason when the deadline falls during a pause.
    if (error instanceof DeliveryError) throw error;
    if (stop.aborted) throw new DeliveryError(describeStop(stop, signal, limits));
    throw new DeliveryError("the request failed");
  }
}

function describeStop(stop: AbortSignal, signal: AbortSignal | undefined, limits: DeliveryLimits) {
  return signal?.aborted === true && stop.reason === signal.reason
    ? "stopped: the process is shutting down"
    : `no success within ${limits.totalTimeoutMs} ms`;
}

/** fetch() errors name the host and port in their cause; keep only the kind of failure. */
function describeFetchError(error: unknown, limits: DeliveryLimits): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer within ${limits.attemptTimeoutMs} ms`;
  }
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  return code === undefined ? "the request failed" : `the request failed (${code})`;
}
