// The Elements customers endpoint over HTTP: one page per call, with authentication,
// retries and the documented response shape checked. Which pages to fetch is paging.ts's
// and the sync's business, not this module's.
import ky, { type KyInstance } from "ky";
import pRetry from "p-retry";
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  ERROR_BODY_BYTES,
  parseJsonBody,
  readCapped,
  readUpTo,
} from "./body.ts";
import type { Logger } from "../logger.ts";
import type { TokenSource } from "./auth.ts";
import {
  CUSTOMERS_PATH,
  pageEnvelopeSchema,
  describeIssues,
  NUMBER_FIELDS,
  type PageEnvelope,
} from "./payload.ts";
import { describeHttpFailure, ElementsApiError, type FailureKind } from "./errors.ts";
import { exchange } from "./exchange.ts";
import { filterBody, idsOf, type IdFilter } from "./id-filter.ts";
import { RequestGate } from "./gate.ts";
import { redactSecrets } from "./redact.ts";
import { absentHostFailure, type HostSettings } from "./first-contact.ts";
import { answerFailure, classifyStatus } from "./retry.ts";
import { isObject } from "../values.ts";

export interface ElementsClientOptions {
  apiUrl: string;
  tokens: TokenSource;
  log: Logger;
  /** One request's whole exchange, from sending to the last byte of the answer. */
  timeoutMs: number;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Upper bound on the time one request may spend retrying. */
  maxRetryTimeMs: number;
  /** First backoff delay; later ones double, with jitter. */
  retryDelayMs?: number;
  /** Shared with other clients that should pause together on a 429. */
  gate?: RequestGate;
  /** Told about every HTTP answer and retry, for metrics; must not throw. */
  events?: ClientEvents;
  /** A larger response body fails the request at once (default 2 MiB, DEFAULT_MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  /** Where each host comes from, for the message when one cannot be reached at first contact. */
  hosts?: HostSettings;
}

/** What the client reports as it works. `status` is "error" when no HTTP answer came. */
export interface ClientEvents {
  response?(status: number | "error"): void;
  retry?(kind: FailureKind): void;
}

export interface PageRequest {
  pageIndex: number;
  /** Always sent: today's API defaults to 50, the seed's to 100. */
  pageSize: number;
  /** Ask for these customers only, in the body field the filter names. */
  filter?: IdFilter | undefined;
}

/** A page as the client hands it on: the envelope, and what the sync needs of its body. */
export interface Page extends PageEnvelope {
  /** The response body's size: what holding its records may cost (the pipeline's bound). */
  bodyBytes: number;
  /**
   * Fields of the envelope outside the documented set, `<name>` or `metadata.<name>` (the
   * schema drops them): at most MAX_ENVELOPE_FIELDS.
   */
  envelopeFields: readonly string[];
}

export interface ElementsClient {
  fetchPage(request: PageRequest, signal?: AbortSignal): Promise<Page>;
  /** No page is larger (ELEMENTS_MAX_RESPONSE_BYTES): what a run's memory bound is made of. */
  readonly maxResponseBytes: number;
}

/** A 429 that says "retry at once" must still not turn into a tight loop. */
const MIN_RATE_LIMIT_PAUSE_MS = 250;

/** The API refused the token: fetch a new one and repeat the request, once. */
const TOKEN_REFUSED = Symbol("token refused");

export function createElementsClient(options: ElementsClientOptions): ElementsClient {
  const http = ky.create({
    prefix: options.apiUrl,
    // The exchange bounds the whole request, body included; ky's timeout ends at the headers.
    timeout: false,
    retry: 0,
    throwHttpErrors: false,
  });
  const gate = options.gate ?? new RequestGate();
  const envelopeFields = new Set<string>();
  const announceEnvelopeFields = (found: readonly string[]) => {
    const names = newEnvelopeFields(found, envelopeFields);
    if (names.length === 0) return;
    options.log.warn(
      { newFields: names },
      `fields outside the documented envelope: ${names.join(", ")}; not stored`,
    );
  };
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  // A host that has never answered and cannot be found or connected to is most likely
  // mistyped: that fails at once. Once it has answered, the same fault is an outage: retried.
  const answered = { api: false, identity: false };

  /**
   * One attempt, holding a slot at the gate. A 429's pause is set before the slot is
   * released, so no waiting request slips through in between.
   */
  async function attempt(
    request: PageRequest,
    budgetLeftMs: () => number,
    signal?: AbortSignal,
  ): Promise<Page> {
    const slot = await gate.acquire(signal);
    let outcome: "ok" | "throttled" | "other" = "other";
    try {
      const envelope = await answer(request, signal);
      outcome = "ok";
      return envelope;
    } catch (error) {
      if (!(error instanceof ElementsApiError) || signal?.aborted) throw error;
      if (error.kind === "rate-limited") outcome = "throttled";
      const host = answered[error.service] ? undefined : options.hosts?.[error.service];
      throw (host && absentHostFailure(error, host)) ?? honourRetryAfter(error, budgetLeftMs());
    } finally {
      slot.release(outcome);
    }
  }

  /** A refused token is replaced once, within the attempt, as the API asks. */
  async function answer(request: PageRequest, signal?: AbortSignal): Promise<Page> {
    const token = await options.tokens.get(signal);
    answered.identity = true;
    const first = await exchangePage(request, token, true, signal);
    if (first !== TOKEN_REFUSED) return first;
    options.tokens.invalidate(token);
    const second = await exchangePage(request, await options.tokens.get(signal), false, signal);
    // Only the first answer may be TOKEN_REFUSED; a second 401 is thrown as final.
    if (second === TOKEN_REFUSED) throw new Error("unreachable: a second 401 is thrown");
    return second;
  }

  /** One request and its whole answer, within ELEMENTS_TIMEOUT_MS. */
  function exchangePage(
    request: PageRequest,
    token: string,
    mayRefreshToken: boolean,
    signal?: AbortSignal,
  ): Promise<Page | typeof TOKEN_REFUSED> {
    const described = {
      pageIndex: request.pageIndex,
      pageSize: request.pageSize,
      // A list of a page of ids is too long for a trace line: its form and size say enough.
      ...(request.filter === undefined
        ? {}
        : { filter: request.filter.form, filterIds: idsOf(request.filter).length }),
    };
    return exchange(
      {
        service: "api",
        who: "the Elements API",
        timeoutMs: options.timeoutMs,
        signal,
        log: options.log,
        request: described,
      },
      (bounded) => observed(send(http, request, token, bounded), signal),
      async (response, bounded) => {
        if (response.status === 401 && mayRefreshToken) {
          await response.body?.cancel();
          return TOKEN_REFUSED;
        }
        if (classifyStatus(response.status) === "ok") {
          const body = await readCapped(response, maxResponseBytes, "The Elements API", bounded);
          return parsePage(body, announceEnvelopeFields);
        }
        // A second 401 in a row means the registration itself is refused: not worth retrying.
        const detail = await errorDetail(response, token, bounded);
        throw answerFailure(response, describeHttpFailure(response.status, detail));
      },
    );
  }

  async function observed(pending: Promise<Response>, signal?: AbortSignal): Promise<Response> {
    try {
      const response = await pending;
      answered.api = true;
      options.events?.response?.(response.status);
      return response;
    } catch (error) {
      // A request we aborted ourselves (shutdown, another page failed) is not the API's doing.
      if (!signal?.aborted) options.events?.response?.("error");
      throw error;
    }
  }

  /**
   * A 429 with Retry-After pauses every request at the gate, if the wait fits in what is
   * left of this request's retry budget; otherwise the request fails now.
   */
  function honourRetryAfter(error: ElementsApiError, budgetLeftMs: number): ElementsApiError {
    if (error.kind !== "rate-limited" || error.retryAfterMs === undefined) return error;
    if (error.retryAfterMs > budgetLeftMs) {
      return new ElementsApiError(
        `The Elements API asked to wait ${Math.ceil(error.retryAfterMs / 1000)} s (429), longer than is left of ELEMENTS_MAX_RETRY_TIME_MS.`,
        { kind: "fatal", status: 429, cause: error },
      );
    }
    gate.pauseFor(Math.max(error.retryAfterMs, MIN_RATE_LIMIT_PAUSE_MS));
    return error;
  }

  return {
    maxResponseBytes,
    async fetchPage(request, signal) {
      const started = performance.now();
      let attempts = 0;
      try {
        return await pRetry(
          async () => {
            attempts += 1;
            return attempt(
              request,
              () => options.maxRetryTimeMs - (performance.now() - started),
              signal,
            );
          },
          {
            // The attempt budget is counted in shouldRetry: waits the API asked for do not use it.
            retries: Number.POSITIVE_INFINITY,
            minTimeout: options.retryDelayMs ?? 1000,
            maxTimeout: 60_000,
            randomize: true,
            maxRetryTime: options.maxRetryTimeMs,
            ...(signal ? { signal } : {}),
            shouldConsumeRetry: ({ error }) => !isPacedByServer(error),
            shouldRetry: ({ error, retriesConsumed }) => {
              const retrying =
                error instanceof ElementsApiError &&
                error.kind !== "fatal" &&
                (isPacedByServer(error) || retriesConsumed < options.maxAttempts - 1);
              if (retrying) {
                options.events?.retry?.(error.kind);
                // A token request is no page's: its lines do not carry the page that waited for it.
                const page = error.service === "identity" ? {} : { pageIndex: request.pageIndex };
                options.log.warn(
                  {
                    ...page,
                    status: error.status,
                    kind: error.kind,
                    attempt: attempts,
                    err: error.message,
                  },
                  error.service === "identity"
                    ? "token request failed; retrying"
                    : "customers request failed; retrying",
                );
              }
              return retrying;
            },
          },
        );
      } catch (error) {
        if (error instanceof ElementsApiError && error.kind !== "fatal" && !signal?.aborted) {
          // The page was waiting for its token: the identity service is what gave out.
          const what = error.service === "identity" ? "token request" : `page ${request.pageIndex}`;
          throw new ElementsApiError(
            `${error.message} (${what}, gave up after ${attempts} attempts)`,
            {
              kind: "fatal",
              service: error.service,
              ...(error.status !== undefined ? { status: error.status } : {}),
              cause: error,
            },
          );
        }
        throw error;
      }
    },
  };
}

/** A 429 that said when to come back: waited out at the gate, not counted as an attempt. */
function isPacedByServer(error: Error): boolean {
  return (
    error instanceof ElementsApiError &&
    error.kind === "rate-limited" &&
    error.retryAfterMs !== undefined
  );
}

function send(http: KyInstance, request: PageRequest, token: string, signal?: AbortSignal) {
  return http.post(CUSTOMERS_PATH, {
    searchParams: { pageIndex: request.pageIndex, pageSize: request.pageSize },
    json: filterBody(request.filter),
    headers: { authorization: `Bearer ${token}` },
    ...(signal ? { signal } : {}),
  });
}

/** The envelope's documented keys: any other is a field AvePoint added. */
const ENVELOPE_FIELDS = new Set(Object.keys(pageEnvelopeSchema.shape));
const METADATA_FIELDS = new Set(Object.keys(pageEnvelopeSchema.shape.metadata.shape));

/**
 * Fields of the envelope (beside `data`, whose records the sync checks) outside the
 * documented set, as `<name>` and `metadata.<name>`: the schema drops them, so they are
 * named here or never. At most MAX_ENVELOPE_FIELDS.
 */
function envelopeFieldsOf(body: unknown): string[] {
  if (!isObject(body)) return [];
  const found = Object.keys(body).filter((key) => !ENVELOPE_FIELDS.has(key));
  const { metadata } = body;
  if (isObject(metadata)) {
    found.push(
      ...Object.keys(metadata)
        .filter((key) => !METADATA_FIELDS.has(key))
        .map((key) => `metadata.${key}`),
    );
  }
  return found
    .slice(0, MAX_ENVELOPE_FIELDS)
    .map((name) => name.replaceAll("\u0000", "\\u0000").toWellFormed().slice(0, 200));
}

/** Those of `found` not yet announced, sorted: each once per client, MAX_ENVELOPE_FIELDS in all. */
function newEnvelopeFields(found: readonly string[], announced: Set<string>): string[] {
  const fresh = found
    .filter((name) => !announced.has(name))
    .slice(0, Math.max(0, MAX_ENVELOPE_FIELDS - announced.size));
  for (const name of fresh) announced.add(name);
  return fresh.sort();
}

const MAX_ENVELOPE_FIELDS = 100;

function parsePage(
  { text, bytes }: { text: string; bytes: number },
  announce: (envelopeFields: readonly string[]) => void,
): Page {
  const body = parseJsonBody(text, "The Elements API", 200, { except: NUMBER_FIELDS });
  const envelopeFields = envelopeFieldsOf(body);
  announce(envelopeFields);
  const result = pageEnvelopeSchema.safeParse(body);
  if (!result.success) {
    throw new ElementsApiError(
      `The Elements API answered with a body that is not the documented shape (${describeIssues(result.error)}).`,
      { kind: "fatal", status: 200 },
    );
  }
  return { ...result.data, bodyBytes: bytes, envelopeFields };
}

/** A short, safe excerpt of an error body for messages: redacted before it is cut, so no token half survives. */
async function errorDetail(
  response: Response,
  sentToken: string,
  signal: AbortSignal,
): Promise<string> {
  // Only the start is shown, so a huge error body is not worth reading whole.
  const body = await readUpTo(response, ERROR_BODY_BYTES, signal).catch(() => ({ text: "" }));
  // The token by name too: one that does not look random (hex, say) escapes the pattern.
  const text = redactSecrets(body.text.trim(), [sentToken]);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
