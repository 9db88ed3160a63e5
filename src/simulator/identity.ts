// The simulated identity service: the client-credentials token endpoint (client secret or
// certificate-signed client assertion) and the store of the access tokens it issued, each
// with the scopes it was granted.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { CLIENT_ASSERTION_TYPE, ClientCertificate } from "./client-assertion.ts";
import { isPermission, type Permission } from "./permissions.ts";

export interface IdentitySettings {
  clientId: string;
  clientSecret: string;
  certificatePem?: string | undefined;
  tokenLifetimeSeconds: number;
  /** The permissions the registration lacks; the server may change the set while it runs. */
  denied: ReadonlySet<Permission>;
}

export interface TokenReply {
  status: number;
  body: Record<string, unknown>;
  /** Why a request was refused, for the operator's log; never holds a secret. */
  note?: string;
}

export class Identity {
  readonly #settings: IdentitySettings;
  readonly #certificate: ClientCertificate | undefined;
  /** access token -> its expiry (ms since the epoch) and scopes */
  readonly #tokens = new Map<string, { expiresAt: number; scopes: ReadonlySet<Permission> }>();
  readonly #issued: string[] = [];
  /** jti of each accepted client assertion -> its expiry (ms), to refuse replays */
  readonly #usedAssertions = new Map<string, number>();

  constructor(settings: IdentitySettings) {
    this.#settings = settings;
    this.#certificate =
      settings.certificatePem === undefined
        ? undefined
        : new ClientCertificate(settings.certificatePem);
  }

  /** Answers a token request's form; `tokenEndpoint` is the URL an assertion's `aud` must name. */
  token(form: URLSearchParams, tokenEndpoint: string): TokenReply {
    if (form.get("grant_type") !== "client_credentials") {
      return { status: 400, body: { error: "unsupported_grant_type" } };
    }
    const refusal = this.#authenticate(form, tokenEndpoint);
    if (refusal !== undefined)
      return { status: 401, body: { error: "invalid_client" }, note: refusal };
    const scope = form.get("scope");
    // OAuth's scope is a space-separated list; as a real identity service does, a request
    // naming any scope the registration was not granted is refused whole.
    const asked = (scope ?? "").split(" ").filter(Boolean);
    const refused = asked.find((name) => !isPermission(name) || this.#settings.denied.has(name));
    if (asked.length === 0 || refused !== undefined) {
      return {
        status: 400,
        body: { error: "invalid_scope" },
        note: `scope ${JSON.stringify(scope)}${refused === undefined ? "" : `: ${refused} not granted`}`,
      };
    }

    const now = Date.now();
    for (const [token, { expiresAt }] of this.#tokens)
      if (expiresAt <= now) this.#tokens.delete(token);
    const accessToken = randomBytes(32).toString("base64url");
    this.#tokens.set(accessToken, {
      expiresAt: now + this.#settings.tokenLifetimeSeconds * 1000,
      scopes: new Set(asked.filter(isPermission)),
    });
    this.#issued.push(accessToken);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        expires_in: this.#settings.tokenLifetimeSeconds,
        token_type: "Bearer",
        scope,
      },
    };
  }

  /** The scopes of a live token; undefined for a token unknown or expired. */
  scopesOf(accessToken: string): ReadonlySet<Permission> | undefined {
    const token = this.#tokens.get(accessToken);
    return token !== undefined && token.expiresAt > Date.now() ? token.scopes : undefined;
  }

  /** Every access token issued so far, expired or not: tests check none reaches a log. */
  issued(): string[] {
    return [...this.#issued];
  }

  /** Every token issued so far becomes invalid. */
  expireAll(): void {
    this.#tokens.clear();
  }

  /** undefined when the client authenticated, else why not. */
  #authenticate(form: URLSearchParams, tokenEndpoint: string): string | undefined {
    const { clientId, clientSecret } = this.#settings;
    const assertionType = form.get("client_assertion_type");
    const assertion = form.get("client_assertion");
    const givenId = form.get("client_id");

    if (assertionType === null && assertion === null) {
      if (givenId !== clientId) return "unknown client_id";
      const givenSecret = form.get("client_secret");
      if (givenSecret === null || !sameSecret(givenSecret, clientSecret))
        return "wrong client_secret";
      return undefined;
    }

    if (form.has("client_secret")) return "both a client_secret and a client_assertion";
    if (assertionType !== CLIENT_ASSERTION_TYPE) return "unsupported client_assertion_type";
    if (assertion === null) return "client_assertion missing";
    if (givenId !== null && givenId !== clientId) return "unknown client_id";
    if (this.#certificate === undefined) return "no certificate is registered for the client";
    const now = Date.now();
    const result = this.#certificate.verifyAssertion(assertion, {
      clientId,
      audience: tokenEndpoint,
      nowSeconds: Math.floor(now / 1000),
    });
    if (!result.ok) return `client_assertion refused: ${result.reason}`;
    forgetExpired(this.#usedAssertions, now);
    if (this.#usedAssertions.has(result.jti)) return "client_assertion replayed (jti already used)";
    this.#usedAssertions.set(result.jti, result.exp * 1000);
    return undefined;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function forgetExpired(expiries: Map<string, number>, now: number): void {
  for (const [key, expiresAt] of expiries) if (expiresAt <= now) expiries.delete(key);
}
