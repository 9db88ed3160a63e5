// Builds a ready-to-use Elements client, with its token source (a token per scope), from
// configuration.
import type { Logger } from "../logger.ts";
import { createTokenSource, type Credentials } from "./auth.ts";
import { createElementsClient, type ClientEvents, type ElementsClient } from "./client.ts";

/** What ELEMENTS_* configure: where the API is, who asks, and how a run pages through it. */
export interface ElementsConfig {
  apiUrl: string;
  identityUrl: string;
  clientId: string;
  credentials: Credentials;
  scope: string;
  /** Customers per page. */
  pageSize: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Upper bound on the time one request may spend retrying. */
  maxRetryTimeMs: number;
  /** Pages fetched at the same time after page 1. */
  concurrency: number;
  /** A response body larger than this fails the request (a broken or hostile server). */
  maxResponseBytes: number;
  /**
   * The settings that chose apiUrl and identityUrl, named when a host cannot be reached on
   * the first request (default: ELEMENTS_API_URL and ELEMENTS_IDENTITY_URL).
   */
  hostVariables?: { api: string; identity: string };
}

export interface ClientTuning {
  /** First retry delay (default 1 s); tests and the demo shorten it. */
  retryDelayMs?: number | undefined;
  /** Told about every HTTP answer and retry, for metrics. */
  events?: ClientEvents | undefined;
}

/** Throws ConfigError (before any request is made) when the certificate cannot be used. */
export function createElementsClientFromConfig(
  config: ElementsConfig,
  log: Logger,
  tuning: ClientTuning = {},
): ElementsClient {
  const tokens = createTokenSource({
    identityUrl: config.identityUrl,
    clientId: config.clientId,
    credentials: config.credentials,
    scope: config.scope,
    timeoutMs: config.timeoutMs,
    log,
    maxResponseBytes: config.maxResponseBytes,
  });
  return createElementsClient({
    apiUrl: config.apiUrl,
    tokens,
    log,
    timeoutMs: config.timeoutMs,
    maxAttempts: config.maxAttempts,
    maxRetryTimeMs: config.maxRetryTimeMs,
    maxResponseBytes: config.maxResponseBytes,
    hosts: {
      api: { url: config.apiUrl, variable: config.hostVariables?.api ?? "ELEMENTS_API_URL" },
      identity: {
        url: config.identityUrl,
        variable: config.hostVariables?.identity ?? "ELEMENTS_IDENTITY_URL",
      },
    },
    ...(tuning.retryDelayMs !== undefined ? { retryDelayMs: tuning.retryDelayMs } : {}),
    ...(tuning.events !== undefined ? { events: tuning.events } : {}),
  });
}
