// What redaction cuts from error bodies, and what it keeps: only the secret goes, the
// message around it stays readable.
import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../src/elements/redact.ts";

const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlX19fX19fX19fX19fX19fX19f";

describe("redactSecrets", () => {
  it.each([
    [`token Bearer ${JWT} expired; retry later`, "token Bearer [redacted] expired; retry later"],
    [
      `{"detail":"Authorization: Bearer ${JWT}","hint":"renew it"}`,
      '{"detail":"Authorization: Bearer [redacted]","hint":"renew it"}',
    ],
    [`Basic ZGVtbzpzZWNyZXQ=, then more`, "Basic [redacted], then more"],
    [`jwt=${JWT}&next=1`, "jwt=[redacted]&next=1"],
    // A short JWT is still a JWT.
    ["see eyJhbGciOiJub25lIn0.eyJ9. here", "see [redacted] here"],
  ])("%s", (text, redacted) => {
    expect(redactSecrets(text)).toBe(redacted);
  });

  it("cuts a secret it was given by value, once, and the scheme does not cut again", () => {
    const token = "0123456789abcdef0123456789abcdef";
    expect(redactSecrets(`Bearer ${token} was refused.`, [token])).toBe(
      "Bearer [redacted] was refused.",
    );
  });

  it("keeps what is not secret: paths, UUIDs, hex digests, words", () => {
    const text =
      "customer 3f2b8c1e-9a4d-4e6b-8f1a-2c3d4e5f6a7b at /partner/external/v3/general/customers/batch";
    expect(redactSecrets(text)).toBe(text);
  });
});
