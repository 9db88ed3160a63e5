// Keeping secrets out of messages and logs: error bodies are shown to people, and a server
// may echo what it was sent.
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
