// What a request that got no answer says: the innermost cause of a network failure, and a
// server certificate Node does not trust, which no retry can fix.
import { ElementsApiError, type Service } from "./errors.ts";

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
export function certificateFailure(
  error: unknown,
  who: string,
  service: Service = "api",
): ElementsApiError | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === undefined || !CERTIFICATE_ERROR_CODES.has(code)) continue;
    return new ElementsApiError(
      `The TLS certificate of ${who} is not trusted (${code}). If a proxy or a private CA ` +
        `signs it, set NODE_EXTRA_CA_CERTS to that CA's PEM file; certificate checks stay on.`,
      { kind: "fatal", cause: error, service },
    );
  }
  return undefined;
}

/** A request that got no answer from `who`: fatal for an untrusted certificate, else retried. */
export function connectionFailure(
  error: Error,
  who: string,
  service: Service = "api",
): ElementsApiError {
  return (
    certificateFailure(error, who, service) ??
    new ElementsApiError(`Could not reach ${who} (${rootCauseMessage(error)})`, {
      kind: "retry",
      cause: error,
      service,
    })
  );
}
