// One HTTP exchange with the Elements API or the identity service, bounded as a whole:
// ELEMENTS_TIMEOUT_MS runs from sending the request to the last byte of the answer, so a
// server that sends its headers and then trickles its body is a timeout like one that never
// answers. The caller's signal (shutdown, a failed page, the run's ceiling) cancels it at
// any point, the body read included. Failures come out as ElementsApiError naming the
// service; the caller decides whether to retry.
import { isNetworkError } from "ky";
import type { Logger } from "../logger.ts";
import { ElementsApiError, SERVICE_NAMES, type Service } from "./errors.ts";
import { connectionFailure } from "./network.ts";

export interface ExchangeOptions {
  service: Service;
  /** Names the server in connection failures, e.g. `the identity service at <url>`. */
  who: string;
  timeoutMs: number;
  /** The caller's: aborting it cancels the exchange, whatever it is waiting for. */
  signal?: AbortSignal | undefined;
  log: Logger;
  /** What trace lines say about the request (never a secret): a URL, a page index. */
  request: Record<string, unknown>;
}

/** Why the exchange's own deadline aborted it, told apart from the caller's abort. */
class ExchangeDeadline extends Error {
  override name = "ExchangeDeadline";
}

/**
 * Sends with `send` and reads the answer with `read`, both given the signal that ends the
 * exchange (the caller's or the deadline's). `read` must read the body through that signal.
 */
export async function exchange<T>(
  options: ExchangeOptions,
  send: (signal: AbortSignal) => Promise<Response>,
  read: (response: Response, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { log, service, timeoutMs } = options;
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort(new ExchangeDeadline(`no complete answer within ${timeoutMs} ms`));
  }, timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, deadline.signal])
    : deadline.signal;
  const started = performance.now();
  let status: number | undefined;
  try {
    log.trace({ service, ...options.request }, "request sent");
    const response = await send(signal);
    status = response.status;
    log.trace(
      { service, ...options.request, status, ms: Math.round(performance.now() - started) },
      "answer received",
    );
    const result = await read(response, signal);
    log.trace(
      { service, ...options.request, status, ms: Math.round(performance.now() - started) },
      "answer read",
    );
    return result;
  } catch (error) {
    // A stop the caller asked for is not the server's doing: its own reason goes up.
    if (options.signal?.aborted) throw error;
    if (deadline.signal.aborted) throw timedOut(options, status, error);
    if (error instanceof ElementsApiError) throw error;
    if (isNetworkError(error) || brokeMidBody(error)) {
      throw connectionFailure(error, options.who, service);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** A timeout is transient: retried within the attempt and time budgets. */
function timedOut(
  options: ExchangeOptions,
  status: number | undefined,
  cause: unknown,
): ElementsApiError {
  const name = SERVICE_NAMES[options.service];
  const what = status === undefined ? "no answer" : `its answer (${status}) was not complete`;
  return new ElementsApiError(
    `${capitalized(name)} did not answer in time: ${what} within ELEMENTS_TIMEOUT_MS (${options.timeoutMs} ms)`,
    { kind: "retry", service: options.service, cause },
  );
}

/** Undici's error when the connection ends in the middle of a body. */
function brokeMidBody(error: unknown): error is Error {
  return error instanceof TypeError && error.message === "terminated";
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
