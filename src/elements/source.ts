// Builds a ready-to-use customers client from configuration.
import type { ElementsConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createTokenSource } from "./auth.ts";
import { createElementsClient, type ClientEvents, type ElementsClient } from "./client.ts";

/** Throws ConfigError (before any request is made) when the certificate cannot be used. */
export function createElementsSource(
  config: ElementsConfig,
  log: Logger,
  retryDelayMs?: number,
  events?: ClientEvents,
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
    ...(retryDelayMs !== undefined ? { retryDelayMs } : {}),
    ...(events !== undefined ? { events } : {}),
  });
}
