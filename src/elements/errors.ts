// The errors the Elements client raises (ElementsApiError, and PermissionMissingError for a
// permission the app registration lacks), with the kind of failure that decides how each is
// handled, and messages for people about what an HTTP status means for this API.
import { CUSTOMERS_PERMISSION, type ResourceName } from "./resources.ts";

/**
 * - `fatal`: retrying cannot help (400, 403, 404, other 4xx, a malformed body).
 * - `retry`: transient (5xx, 408, connection errors, timeouts): exponential backoff with jitter.
 * - `rate-limited`: 429: wait for Retry-After, shared by every request of the client.
 * - `unauthorized`: 401: the client fetches a new token once and repeats the request;
 *   a second 401 is fatal.
 */
export type FailureKind = "fatal" | "retry" | "rate-limited" | "unauthorized";

/** Who failed: the Elements API (any endpoint), or the identity service that issues its tokens. */
export type Service = "api" | "identity";

/** How messages name each service. */
export const SERVICE_NAMES: Record<Service, string> = {
  api: "the Elements API",
  identity: "the identity service",
};

export class ElementsApiError extends Error {
  override name = "ElementsApiError";
  readonly kind: FailureKind;
  readonly status: number | undefined;
  /** For `rate-limited`: how long the API asked us to wait, when it said. */
  readonly retryAfterMs: number | undefined;
  /** Which service failed (default the API): a page's request may fail getting its token. */
  readonly service: Service;

  constructor(
    message: string,
    details: {
      kind: FailureKind;
      status?: number;
      retryAfterMs?: number;
      cause?: unknown;
      service?: Service;
    },
  ) {
    super(message, { cause: details.cause });
    this.kind = details.kind;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.service = details.service ?? "api";
  }
}

/**
 * Whether `error` is a request that failed for good because its retries ran out (5xx,
 * timeouts, resets, 429s past the budget), as opposed to one refused outright (4xx, a body
 * of the wrong shape), which retrying could not have helped.
 */
export function gaveUpRetrying(error: ElementsApiError): boolean {
  return (
    error.kind === "fatal" &&
    error.cause instanceof ElementsApiError &&
    error.cause.kind !== "fatal"
  );
}

/**
 * The app registration lacks the permission an endpoint needs: its endpoint answered 403, or
 * the identity service refused a token for its scope (`invalid_scope`). Never retried; the
 * sync skips the resource it stops, and fails the run when that is customers.
 */
export class PermissionMissingError extends ElementsApiError {
  override name = "PermissionMissingError";
  readonly permission: string;
  readonly resource: ResourceName;

  constructor(
    message: string,
    details: {
      permission: string;
      resource: ResourceName;
      status: number;
      service: Service;
      cause?: unknown;
    },
  ) {
    super(message, {
      kind: "fatal",
      status: details.status,
      service: details.service,
      cause: details.cause,
    });
    this.permission = details.permission;
    this.resource = details.resource;
  }
}

/** The message of an endpoint's 403: the permission to grant, then what the API said. */
export function describeMissingPermission(permission: string, detail: string): string {
  return `The app registration lacks the permission ${permission} (403). Grant it under Elements > API app registration${detail ? ` (${detail})` : ""}.`;
}

/** A message for people: what the status means for this API and what to check. */
export function describeHttpFailure(
  status: number,
  detail: string,
  permission: string = CUSTOMERS_PERMISSION,
): string {
  const suffix = detail ? `: ${detail}` : "";
  switch (status) {
    case 400:
      return `The Elements API rejected the request as invalid (400)${suffix}`;
    case 401:
      return `The Elements API refused the access token even after a new one was fetched (401)${suffix}. Check that the app registration is active.`;
    case 403:
      return describeMissingPermission(permission, detail);
    case 404:
      return `The Elements API has no such endpoint (404); check ELEMENTS_REGION or ELEMENTS_API_URL${suffix}`;
    case 429:
      return `The Elements API kept throttling requests (429)${suffix}`;
    default:
      return `The Elements API answered ${status}${suffix}`;
  }
}
