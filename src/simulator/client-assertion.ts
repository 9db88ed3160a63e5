// Verifies a private_key_jwt client assertion (RFC 7523) against one X.509 certificate,
// with node:crypto only: RS256, the certificate's SHA-1 thumbprint in `x5t`, and the claims
// AvePoint's identity service requires.
import { createHash, verify, X509Certificate } from "node:crypto";
import { isObject } from "../values.ts";

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** An assertion may not live longer than this (its `exp` at most this far ahead). */
const MAX_LIFETIME_SECONDS = 600;
/** Tolerated clock difference between client and simulator (for `exp` ahead and `nbf`). */
const CLOCK_SKEW_SECONDS = 30;

export interface AssertionExpectations {
  clientId: string;
  /** The token endpoint URL, which `aud` must name. */
  audience: string;
  nowSeconds: number;
}

export type AssertionResult =
  { ok: true; jti: string; exp: number } | { ok: false; reason: string };

export class ClientCertificate {
  readonly #publicKey: X509Certificate["publicKey"];
  /** base64url(SHA-1(DER)), the value of a JWT's `x5t` header. */
  readonly thumbprint: string;

  constructor(pem: string) {
    const certificate = new X509Certificate(pem);
    this.#publicKey = certificate.publicKey;
    this.thumbprint = createHash("sha1").update(certificate.raw).digest("base64url");
  }

  verifyAssertion(jwt: string, expected: AssertionExpectations): AssertionResult {
    const parts = jwt.split(".");
    const [headerPart, payloadPart, signaturePart] = parts;
    if (parts.length !== 3 || !headerPart || !payloadPart || !signaturePart) {
      return { ok: false, reason: "not a compact JWS" };
    }
    const header = decodeJsonPart(headerPart);
    const claims = decodeJsonPart(payloadPart);
    if (!header || !claims) return { ok: false, reason: "header or payload is not base64url JSON" };
    if (header.alg !== "RS256") return { ok: false, reason: "alg must be RS256" };
    if (header.x5t !== this.thumbprint)
      return { ok: false, reason: "x5t does not match the certificate" };

    const signed = Buffer.from(`${headerPart}.${payloadPart}`);
    const signature = Buffer.from(signaturePart, "base64url");
    if (!verify("RSA-SHA256", signed, this.#publicKey, signature)) {
      return { ok: false, reason: "signature is invalid" };
    }

    if (claims.iss !== expected.clientId) return { ok: false, reason: "iss is not the client id" };
    if (claims.sub !== expected.clientId) return { ok: false, reason: "sub is not the client id" };
    const audiences: unknown[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(expected.audience)) {
      return { ok: false, reason: `aud must be ${expected.audience}` };
    }
    const now = expected.nowSeconds;
    const { exp, nbf, jti } = claims;
    if (typeof exp !== "number" || exp <= now) {
      return { ok: false, reason: "exp is missing or in the past" };
    }
    if (exp > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
      return { ok: false, reason: `exp is more than ${MAX_LIFETIME_SECONDS} s ahead` };
    }
    if (nbf !== undefined && (typeof nbf !== "number" || nbf > now + CLOCK_SKEW_SECONDS)) {
      return { ok: false, reason: "nbf is in the future" };
    }
    if (typeof jti !== "string" || jti === "") return { ok: false, reason: "jti is missing" };
    return { ok: true, jti, exp };
  }
}

function decodeJsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
