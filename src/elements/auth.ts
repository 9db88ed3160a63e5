// OAuth 2.0 client credentials against the Elements identity service, with a client
// secret or a certificate (private_key_jwt). A token is reused until shortly before it
// expires; callers invalidate it on a 401 to force a new one.
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
import { ElementsApiError } from "./errors.ts";
import { exchange } from "./exchange.ts";
import { describeIssues, tokenResponseSchema } from "./payload.ts";
import { redactSecrets } from "./redact.ts";
import { answerFailure } from "./retry.ts";

export interface TokenSource {
  /** A valid access token, fetching a new one when there is none or it is about to expire. */
  get(signal?: AbortSignal): Promise<string>;
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
    if (code === "ERR_OSSL_BAD_DECRYPT") {
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
  let cached: CachedToken | undefined;
  let inFlight: Promise<CachedToken> | undefined;

  function requestBody(): URLSearchParams {
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: options.clientId,
      scope: options.scope,
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
  function requestToken(signal?: AbortSignal): Promise<CachedToken> {
    const body = requestBody();
    return exchange(
      {
        service: "identity",
        who: `the identity service at ${tokenUrl}`,
        timeoutMs: options.timeoutMs,
        signal,
        log: options.log,
        request: { url: tokenUrl },
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
      (response, bounded) => readToken(response, body, bounded),
    );
  }

  async function readToken(
    response: Response,
    sent: URLSearchParams,
    signal: AbortSignal,
  ): Promise<CachedToken> {
    if (!response.ok) {
      const { text } = await readUpTo(response, ERROR_BODY_BYTES, signal);
      throw answerFailure(
        response,
        describeTokenFailure(response.status, redactSecrets(text, sentSecrets(sent))),
        "identity",
      );
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
    async get(signal) {
      if (cached && now() < cached.refreshAt) return cached.value;
      inFlight ??= requestToken(signal).finally(() => {
        inFlight = undefined;
      });
      cached = await inFlight;
      options.log.debug(
        { expiresAt: new Date(cached.expiresAt).toISOString() },
        "fetched an access token",
      );
      return cached.value;
    },
    invalidate(token) {
      if (cached?.value === token) cached = undefined;
    },
  };
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

/** Uses the OAuth error fields (never the request, which holds the secret). */
function describeTokenFailure(status: number, text: string): string {
  let oauth = "";
  try {
    const { error, error_description: description } = JSON.parse(text) as Record<string, unknown>;
    oauth = [error, description].filter((part) => typeof part === "string" && part).join(": ");
  } catch {
    // Not JSON: the status alone will do.
  }
  const detail = oauth ? ` (${oauth})` : "";
  if (status === 400 || status === 401) {
    return `The identity service refused the app's credentials, ${status}${detail}. Check ELEMENTS_CLIENT_ID, the client secret or certificate, and ELEMENTS_SCOPE.`;
  }
  return `The identity service answered ${status}${detail}.`;
}
