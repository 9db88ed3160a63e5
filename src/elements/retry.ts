// Which failed answers are worth another attempt, kept apart from the HTTP code so the
// rules can be read (and unit-tested) in one place.
import {
  describeHttpFailure,
  describeMissingPermission,
  ElementsApiError,
  PermissionMissingError,
  type FailureKind,
  type Service,
} from "./errors.ts";
import type { Endpoint } from "./resources.ts";

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
