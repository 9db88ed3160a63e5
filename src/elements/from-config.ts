// Builds a ready-to-use customers client, with its token source, from configuration.
import type { ElementsConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createTokenSource } from "./auth.ts";
import { createElementsClient, type ClientEvents, type ElementsClient } from "./client.ts";

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
    ...(tuning.retryDelayMs !== undefined ? { retryDelayMs: tuning.retryDelayMs } : {}),
    ...(tuning.events !== undefined ? { events: tuning.events } : {}),
  });
}
