// Which failed answers are worth another attempt, and the loop that makes them, kept apart
// from the HTTP code so the rules can be read (and unit-tested) in one place.
import pRetry from "p-retry";
import type { Logger } from "../logger.ts";
import {
  describeHttpFailure,
  describeMissingPermission,
  ElementsApiError,
  PermissionMissingError,
  type FailureKind,
  type Service,
} from "./errors.ts";
import type { Endpoint, ResourceName } from "./resources.ts";

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

/**
 * The error for an answer that is not 2xx, carrying a 429's Retry-After. A 401 is final
 * here: the API client has already replaced its token once, and the identity service
 * refuses the credentials themselves.
 */
export function answerFailure(
  response: Response,
  message: string,
  service: Service = "api",
): ElementsApiError {
  const kind = classifyStatus(response.status);
  const retryAfterMs =
    kind === "rate-limited" ? parseRetryAfter(response.headers.get("retry-after")) : undefined;
  return new ElementsApiError(message, {
    kind: kind === "retry" || kind === "rate-limited" ? kind : "fatal",
    status: response.status,
    service,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/**
 * The error for an endpoint's answer that is neither 2xx nor a first 401: a missing
 * permission for a 403, an unknown customer for a 404 to a path naming one, else what the
 * status means.
 */
export function endpointFailure(
  endpoint: Endpoint,
  customerId: string | undefined,
  response: Response,
  detail: string,
): ElementsApiError {
  const { permission, resource } = endpoint;
  if (response.status === 403) {
    return new PermissionMissingError(describeMissingPermission(permission, detail), {
      permission,
      resource,
      status: 403,
      service: "api",
    });
  }
  if (response.status === 404 && customerId !== undefined) {
    const said = detail ? `: ${detail}` : "";
    return answerFailure(
      response,
      `The Elements API knows no customer ${customerId} (404, asked for its ${resource})${said}`,
    );
  }
  return answerFailure(response, describeHttpFailure(response.status, detail, permission));
}

/** The budgets a client retries within, where it logs and whom it tells. */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Upper bound on the time one request may spend retrying. */
  maxRetryTimeMs: number;
  /** First backoff delay; later ones double, with jitter. */
  retryDelayMs?: number | undefined;
  log: Logger;
  events?: { retry?(kind: FailureKind): void } | undefined;
}

/** What the retry lines and the final failure say of the request. */
export interface RetriedRequest {
  resource: ResourceName;
  pageIndex: number;
  customerId: string | undefined;
  /** The request in a message: `page 3`, `jobs of customer c, page 1`. */
  name: string;
}

/**
 * `attempt` until it succeeds, fails for good (fatal) or the budgets run out, each attempt
 * told how much of the time budget is left; what gives out at last is fatal, naming the
 * request and its attempts. A 429 with Retry-After is waited out without spending an attempt.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  request: RetriedRequest,
  attempt: (budgetLeftMs: () => number) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const started = performance.now();
  const budgetLeftMs = () => policy.maxRetryTimeMs - (performance.now() - started);
  let attempts = 0;
  try {
    return await pRetry(
      () => {
        attempts += 1;
        return attempt(budgetLeftMs);
      },
      {
        // The attempt budget is counted in shouldRetry: waits the API asked for do not use it.
        retries: Number.POSITIVE_INFINITY,
        minTimeout: policy.retryDelayMs ?? 1000,
        maxTimeout: 60_000,
        randomize: true,
        maxRetryTime: policy.maxRetryTimeMs,
        ...(signal ? { signal } : {}),
        shouldConsumeRetry: ({ error }) => !isPacedByServer(error),
        shouldRetry: ({ error, retriesConsumed }) => {
          const retrying =
            error instanceof ElementsApiError &&
            error.kind !== "fatal" &&
            (isPacedByServer(error) || retriesConsumed < policy.maxAttempts - 1);
          if (retrying) logRetry(policy, request, error, attempts);
          return retrying;
        },
      },
    );
  } catch (error) {
    if (error instanceof ElementsApiError && error.kind !== "fatal" && !signal?.aborted) {
      // The page was waiting for its token: the identity service is what gave out.
      const what = error.service === "identity" ? "token request" : request.name;
      throw new ElementsApiError(`${error.message} (${what}, gave up after ${attempts} attempts)`, {
        kind: "fatal",
        service: error.service,
        ...(error.status !== undefined ? { status: error.status } : {}),
        cause: error,
      });
    }
    throw error;
  }
}

function logRetry(
  policy: RetryPolicy,
  request: RetriedRequest,
  error: ElementsApiError,
  attempt: number,
): void {
  policy.events?.retry?.(error.kind);
  // A token request is no page's: its lines do not carry the page that waited for it.
  const page =
    error.service === "identity"
      ? {}
      : {
          pageIndex: request.pageIndex,
          ...(request.customerId === undefined ? {} : { customerId: request.customerId }),
        };
  policy.log.warn(
    { ...page, status: error.status, kind: error.kind, attempt, err: error.message },
    error.service === "identity"
      ? "token request failed; retrying"
      : `${request.resource} request failed; retrying`,
  );
}

/** A 429 that said when to come back: waited out at the gate, not counted as an attempt. */
function isPacedByServer(error: Error): boolean {
  return (
    error instanceof ElementsApiError &&
    error.kind === "rate-limited" &&
    error.retryAfterMs !== undefined
  );
}
