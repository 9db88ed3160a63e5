// Keeping secrets out of messages and logs: error bodies are shown to people, and a server
// may echo what it was sent.
/** Runs of 32+ base64(url) or JWT characters: candidates for tokens and keys. */
const TOKEN_LIKE = /[A-Za-z0-9+/_=.-]{32,}/g;

/** A JWT (header.payload.signature, each base64url; the header is JSON, so it starts `eyJ`). */
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/**
 * The credential after an authorization scheme: RFC 9110's token68 characters only, so
 * the quote, comma or text after it is kept, and one already redacted is left alone.
 */
const SCHEME_CREDENTIAL = /\b(Bearer|Basic)(\s+)(?!\[redacted\])[A-Za-z0-9\-._~+/]+=*/gi;

const REDACTED = "[redacted]";

/** Random base64 mixes upper and lower case; paths, UUIDs and hex digests do not. */
function looksRandom(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run);
}

/**
 * Error bodies go into messages and logs, and a server may echo what it was sent: the
 * bearer token, the client secret. `secrets` (as sent and as form-encoded), JWTs, the
 * credential after `Bearer` or `Basic` and other token-like runs are replaced by
 * `[redacted]`; everything around them is kept.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret === "") continue;
    for (const form of new Set([secret, encodeURIComponent(secret), formEncoded(secret)])) {
      redacted = redacted.split(form).join(REDACTED);
    }
  }
  return redacted
    .replace(JWT, REDACTED)
    .replace(SCHEME_CREDENTIAL, `$1$2${REDACTED}`)
    .replace(TOKEN_LIKE, (run) => (looksRandom(run) ? REDACTED : run));
}

function formEncoded(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
