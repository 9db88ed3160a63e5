// OAuth 2.0 client credentials against the Elements identity service, with a client
// secret or a certificate (private_key_jwt). One token per scope, each endpoint's permission
// its own: an identity service refuses a request naming any scope the app was not granted,
// so one token for all would let a missing permission stop every endpoint. A token is
// reused until shortly before it expires; callers invalidate it on a 401 to force a new one.
import {
  createHash,
  createPrivateKey,
  createSign,
  randomUUID,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import { readFileSync } from "node:fs";
import ky from "ky";
import { ConfigError, errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  ERROR_BODY_BYTES,
  parseJsonBody,
  readCapped,
  readUpTo,
} from "./body.ts";
import { ElementsApiError, PermissionMissingError } from "./errors.ts";
import { exchange } from "./exchange.ts";
import { describeIssues, tokenResponseSchema } from "./payload.ts";
import { redactSecrets } from "./redact.ts";
import { CUSTOMERS_ENDPOINT, endpointOfPermission } from "./resources.ts";
import { answerFailure } from "./retry.ts";

export interface TokenSource {
  /**
   * A valid access token for the endpoint needing `permission` (default: the customers
   * endpoint's), fetching a new one when there is none or it is about to expire. Each
   * scope has its own token.
   */
  get(signal?: AbortSignal, permission?: string): Promise<string>;
  /** Forget `token` (the API refused it), so the next `get` fetches a new one. */
  invalidate(token: string): void;
}

/** The app registration's client secret, or its certificate (ELEMENTS_CERTIFICATE_PATH). */
export type Credentials =
  | { kind: "secret"; clientSecret: string }
  | { kind: "certificate"; certificatePath: string; passphrase: string | undefined };

export interface TokenSourceOptions {
  identityUrl: string;
  clientId: string;
  credentials: Credentials;
  /**
   * The scope of the customers endpoint's token (ELEMENTS_SCOPE); every other endpoint's
   * token asks for its own permission.
   */
  scope: string;
  /** One token request's whole exchange, from sending to the last byte of the answer. */
  timeoutMs: number;
  log: Logger;
  now?: () => number;
  /** A larger token response fails at once (default ELEMENTS_MAX_RESPONSE_BYTES's). */
  maxResponseBytes?: number;
}

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Refresh this long before expiry, so a token does not expire between check and use. */
const REFRESH_MARGIN_MS = 60_000;
const ASSERTION_LIFETIME_S = 300;

interface SigningCertificate {
  privateKey: KeyObject;
  /** base64url SHA-1 thumbprint of the certificate (the JWT header's `x5t`). */
  thumbprint: string;
}

/** Reads a PEM file holding the private key and the certificate; every failure is a ConfigError. */
export function loadSigningCertificate(
  path: string,
  passphrase: string | undefined,
): SigningCertificate {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `ELEMENTS_CERTIFICATE_PATH cannot be read (${path}): ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}.`,
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new ConfigError(
      `ELEMENTS_CERTIFICATE_PATH (${path}) holds no PEM certificate; it must contain the certificate and its private key.`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    // A wrong passphrase fails the padding check (bad decrypt) most of the time; about once
    // in 256 the padding happens to pass and the garbage then fails to parse instead.
    const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem);
    if (code === "ERR_OSSL_BAD_DECRYPT" || (passphrase !== undefined && encrypted)) {
      throw new ConfigError(
        `ELEMENTS_CERTIFICATE_PASSPHRASE does not decrypt the private key in ${path}.`,
      );
    }
    if (passphrase === undefined && code.includes("INTERRUPTED")) {
      throw new ConfigError(
        `The private key in ${path} is encrypted; set ELEMENTS_CERTIFICATE_PASSPHRASE.`,
      );
    }
    throw new ConfigError(
      `ELEMENTS_CERTIFICATE_PATH (${path}) holds no usable private key; put the private key and the certificate in one PEM file.`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(`The private key in ${path} does not belong to its certificate.`);
  }
  const thumbprint = createHash("sha1").update(certificate.raw).digest("base64url");
  return { privateKey, thumbprint };
}

function base64urlJson(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** An RS256 client assertion (RFC 7523) for the token endpoint `audience`. */
export function createClientAssertion(
  signing: SigningCertificate,
  clientId: string,
  audience: string,
  nowMs: number,
): string {
  const issuedAt = Math.floor(nowMs / 1000);
  const header = base64urlJson({ alg: "RS256", typ: "JWT", x5t: signing.thumbprint });
  const claims = base64urlJson({
    iss: clientId,
    sub: clientId,
    aud: audience,
    jti: randomUUID(),
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + ASSERTION_LIFETIME_S,
  });
  const signature = createSign("RSA-SHA256")
    .update(`${header}.${claims}`)
    .sign(signing.privateKey, "base64url");
  return `${header}.${claims}.${signature}`;
}

interface CachedToken {
  value: string;
  expiresAt: number;
  /** When to stop reusing it: a minute before expiry, or a tenth of its life if that is shorter. */
  refreshAt: number;
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const tokenUrl = `${options.identityUrl}/connect/token`;
  const signing =
    options.credentials.kind === "certificate"
      ? loadSigningCertificate(options.credentials.certificatePath, options.credentials.passphrase)
      : undefined;
  /** Per scope: its token, and the request for a new one while it is under way. */
  const scopes = new Map<string, { cached?: CachedToken; inFlight?: Promise<CachedToken> }>();

  function scopeFor(permission: string): string {
    return permission === CUSTOMERS_ENDPOINT.permission ? options.scope : permission;
  }

  function requestBody(scope: string): URLSearchParams {
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: options.clientId,
      scope,
    });
    if (signing) {
      body.set("client_assertion_type", JWT_BEARER);
      body.set(
        "client_assertion",
        createClientAssertion(signing, options.clientId, tokenUrl, now()),
      );
    } else if (options.credentials.kind === "secret") {
      body.set("client_secret", options.credentials.clientSecret);
    }
    return body;
  }

  /** Failures come back as ElementsApiError; retrying them is the caller's business. */
  function requestToken(permission: string, signal?: AbortSignal): Promise<CachedToken> {
    const scope = scopeFor(permission);
    const body = requestBody(scope);
    return exchange(
      {
        service: "identity",
        who: `the identity service at ${tokenUrl}`,
        timeoutMs: options.timeoutMs,
        signal,
        log: options.log,
        request: { url: tokenUrl, scope },
      },
      (bounded) =>
        ky.post(tokenUrl, {
          body,
          // The exchange bounds the whole request, body included.
          timeout: false,
          retry: 0,
          throwHttpErrors: false,
          signal: bounded,
        }),
      (response, bounded) => readToken(response, body, permission, bounded),
    );
  }

  async function readToken(
    response: Response,
    sent: URLSearchParams,
    permission: string,
    signal: AbortSignal,
  ): Promise<CachedToken> {
    if (!response.ok) {
      const { text } = await readUpTo(response, ERROR_BODY_BYTES, signal);
      const redacted = redactSecrets(text, sentSecrets(sent));
      const oauth = oauthError(redacted);
      if (response.status === 400 && oauth.error === "invalid_scope") {
        throw scopeRefused(permission, sent.get("scope") ?? "", oauth.description);
      }
      throw answerFailure(response, describeTokenFailure(response.status, oauth), "identity");
    }
    const { text } = await readCapped(response, maxResponseBytes, "The identity service", signal);
    const parsed = parseTokenResponse(text);
    const lifetimeMs = parsed.expiresInS * 1000;
    const fetchedAt = now();
    return {
      value: parsed.accessToken,
      expiresAt: fetchedAt + lifetimeMs,
      refreshAt: fetchedAt + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 10),
    };
  }

  return {
    async get(signal, permission = CUSTOMERS_ENDPOINT.permission) {
      const state = scopes.get(permission) ?? {};
      scopes.set(permission, state);
      if (state.cached && now() < state.cached.refreshAt) return state.cached.value;
      const pending = (state.inFlight ??= requestToken(permission, signal).finally(() => {
        state.inFlight = undefined;
      }));
      const cached = await pending;
      state.cached = cached;
      options.log.debug(
        { scope: scopeFor(permission), expiresAt: new Date(cached.expiresAt).toISOString() },
        "fetched an access token",
      );
      return cached.value;
    },
    invalidate(token) {
      for (const state of scopes.values()) {
        if (state.cached?.value === token) state.cached = undefined;
      }
    },
  };
}

/** The identity service will not issue a token for the permission's scope: not granted. */
function scopeRefused(
  permission: string,
  scope: string,
  description: string | undefined,
): PermissionMissingError {
  const resource = endpointOfPermission(permission)?.resource ?? "customers";
  const said = description ? `: ${description}` : "";
  // A scope other than the permission is ELEMENTS_SCOPE's doing: it may be what is wrong.
  const check = scope === permission ? "" : `, or check ELEMENTS_SCOPE (${scope})`;
  return new PermissionMissingError(
    `The app registration lacks the permission ${permission}: the identity service refused a token for the scope ${scope} (400 invalid_scope${said}). Grant it under Elements > API app registration${check}.`,
    { permission, resource, status: 400, service: "identity" },
  );
}

/** What the request carried that an identity service echoing it must not put in a message. */
function sentSecrets(body: URLSearchParams): string[] {
  return ["client_secret", "client_assertion"].flatMap((name) => body.getAll(name));
}

function parseTokenResponse(text: string): { accessToken: string; expiresInS: number } {
  const result = tokenResponseSchema.safeParse(parseJsonBody(text, "The identity service"));
  if (!result.success) {
    throw new ElementsApiError(
      `The identity service's answer is not a token response (${describeIssues(result.error)}).`,
      { kind: "fatal", service: "identity" },
    );
  }
  return { accessToken: result.data.access_token, expiresInS: result.data.expires_in };
}

/** The OAuth error fields of an error body, when it is JSON and has them. */
function oauthError(text: string): { error?: string; description?: string } {
  try {
    const { error, error_description: description } = JSON.parse(text) as Record<string, unknown>;
    return {
      ...(typeof error === "string" && error ? { error } : {}),
      ...(typeof description === "string" && description ? { description } : {}),
    };
  } catch {
    // Not JSON: the status alone will do.
    return {};
  }
}

/** Uses the OAuth error fields (never the request, which holds the secret). */
function describeTokenFailure(
  status: number,
  fields: { error?: string; description?: string },
): string {
  const oauth = [fields.error, fields.description].filter(Boolean).join(": ");
  const detail = oauth ? ` (${oauth})` : "";
  if (status === 400 || status === 401) {
    return `The identity service refused the app's credentials, ${status}${detail}. Check ELEMENTS_CLIENT_ID, the client secret or certificate, and ELEMENTS_SCOPE.`;
  }
  return `The identity service answered ${status}${detail}.`;
}
