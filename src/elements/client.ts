// The Elements customers endpoint over HTTP: one page per call, with authentication,
// retries and the documented response shape checked. Which pages to fetch is paging.ts's
// and the sync's business, not this module's.
import ky, { isNetworkError, isTimeoutError, type KyInstance } from "ky";
import pRetry from "p-retry";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { TokenSource } from "./auth.ts";
import {
  CUSTOMERS_PATH,
  pageEnvelopeSchema,
  describeIssues,
  type PageEnvelope,
} from "./payload.ts";
import {
  classifyStatus,
  describeHttpFailure,
  ElementsApiError,
  parseRetryAfter,
  RequestGate,
} from "./retry.ts";

export interface ElementsClientOptions {
  apiUrl: string;
  tokens: TokenSource;
  log: Logger;
  timeoutMs: number;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Upper bound on the time one request may spend retrying. */
  maxRetryTimeMs: number;
  /** First backoff delay; later ones double, with jitter. */
  retryDelayMs?: number;
  /** Shared with other clients that should pause together on a 429. */
  gate?: RequestGate;
}

export interface PageRequest {
  pageIndex: number;
  pageSize: number;
  /** Ask for this one customer only. */
  customerId?: string | undefined;
}

export interface ElementsClient {
  fetchPage(request: PageRequest, signal?: AbortSignal): Promise<PageEnvelope>;
}

/** A 429 that says "retry at once" must still not turn into a tight loop. */
const MIN_RATE_LIMIT_PAUSE_MS = 250;

export function createElementsClient(options: ElementsClientOptions): ElementsClient {
  const http = ky.create({
    prefix: options.apiUrl,
    timeout: options.timeoutMs,
    retry: 0,
    throwHttpErrors: false,
  });
  const gate = options.gate ?? new RequestGate();

  async function attempt(
    request: PageRequest,
    state: { refreshedToken: boolean },
    signal?: AbortSignal,
  ) {
    await gate.wait(signal);
    const token = await options.tokens.get(signal);
    const response = await send(http, request, token, signal);
    const outcome = classifyStatus(response.status);
    if (outcome === "ok") return parseEnvelope(await response.text());

    const detail = await errorDetail(response);
    if (outcome === "unauthorized" && !state.refreshedToken) {
      state.refreshedToken = true;
      options.tokens.invalidate(token);
      throw new ElementsApiError("access token refused (401); fetching a new one", {
        kind: "unauthorized",
        status: 401,
      });
    }
    if (outcome === "rate-limited") {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      if (retryAfterMs !== undefined && retryAfterMs > options.maxRetryTimeMs) {
        throw new ElementsApiError(
          `The Elements API asked to wait ${Math.ceil(retryAfterMs / 1000)} s (429), longer than ELEMENTS_MAX_RETRY_TIME_MS allows.`,
          { kind: "fatal", status: 429 },
        );
      }
      if (retryAfterMs !== undefined)
        gate.pauseFor(Math.max(retryAfterMs, MIN_RATE_LIMIT_PAUSE_MS));
      throw new ElementsApiError(describeHttpFailure(429, detail), {
        kind: "rate-limited",
        status: 429,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    const kind = outcome === "unauthorized" ? "fatal" : outcome;
    throw new ElementsApiError(describeHttpFailure(response.status, detail), {
      kind,
      status: response.status,
    });
  }

  return {
    async fetchPage(request, signal) {
      const state = { refreshedToken: false };
      let attempts = 0;
      try {
        return await pRetry(
          async () => {
            attempts += 1;
            try {
              return await attempt(request, state, signal);
            } catch (error) {
              throw asApiError(error, signal);
            }
          },
          {
            retries: options.maxAttempts - 1,
            minTimeout: options.retryDelayMs ?? 1000,
            maxTimeout: 60_000,
            randomize: true,
            maxRetryTime: options.maxRetryTimeMs,
            ...(signal ? { signal } : {}),
            // A refused token is replaced at once, and a Retry-After is waited out at the
            // gate: neither is the kind of failure the retry budget is for.
            shouldConsumeRetry: ({ error }) =>
              !(error instanceof ElementsApiError) ||
              !(
                error.kind === "unauthorized" ||
                (error.kind === "rate-limited" && error.retryAfterMs !== undefined)
              ),
            shouldRetry: ({ error }) => error instanceof ElementsApiError && error.kind !== "fatal",
            onFailedAttempt: ({ error, retriesLeft }) => {
              if (error instanceof ElementsApiError && error.kind !== "fatal" && retriesLeft > 0) {
                options.log.warn(
                  {
                    pageIndex: request.pageIndex,
                    status: error.status,
                    kind: error.kind,
                    retriesLeft,
                    err: error.message,
                  },
                  "customers request failed; retrying",
                );
              }
            },
          },
        );
      } catch (error) {
        if (error instanceof ElementsApiError && error.kind !== "fatal" && !signal?.aborted) {
          throw new ElementsApiError(
            `${error.message} (page ${request.pageIndex}, gave up after ${attempts} attempts)`,
            {
              kind: "fatal",
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

function send(http: KyInstance, request: PageRequest, token: string, signal?: AbortSignal) {
  return http.post(CUSTOMERS_PATH, {
    searchParams: { pageIndex: request.pageIndex, pageSize: request.pageSize },
    json: request.customerId === undefined ? {} : { customerId: request.customerId },
    headers: { authorization: `Bearer ${token}` },
    ...(signal ? { signal } : {}),
  });
}

/** Network failures and timeouts are transient; anything else unexpected is not. */
function asApiError(error: unknown, signal?: AbortSignal): unknown {
  if (error instanceof ElementsApiError || signal?.aborted) return error;
  if (isTimeoutError(error)) {
    return new ElementsApiError(
      `The Elements API did not answer in time (${errorMessage(error)})`,
      { kind: "retry", cause: error },
    );
  }
  if (isNetworkError(error) || error instanceof TypeError) {
    const cause = error.cause;
    const reason = cause instanceof Error ? cause.message : errorMessage(error);
    return new ElementsApiError(`Could not reach the Elements API (${reason})`, {
      kind: "retry",
      cause: error,
    });
  }
  return error;
}

function parseEnvelope(text: string): PageEnvelope {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ElementsApiError("The Elements API answered 200 with a body that is not JSON.", {
      kind: "fatal",
      status: 200,
    });
  }
  const result = pageEnvelopeSchema.safeParse(body);
  if (!result.success) {
    throw new ElementsApiError(
      `The Elements API answered with a body that is not the documented shape (${describeIssues(result.error)}).`,
      { kind: "fatal", status: 200 },
    );
  }
  return result.data;
}

/** A short, safe excerpt of an error body for messages. */
async function errorDetail(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
