// The Elements endpoints over HTTP: one page per call, with authentication (a token per
// endpoint's scope), retries and the documented envelope checked. Every endpoint shares one
// gate, so a 429 on any slows them all, and the same timeouts, body cap and redaction.
// Which pages to fetch is paging.ts's and the sync's business, not this module's.
import ky, { type KyInstance } from "ky";
import { DEFAULT_MAX_RESPONSE_BYTES, readCapped } from "./body.ts";
import type { Logger } from "../logger.ts";
import type { TokenSource } from "./auth.ts";
import { ElementsApiError, type FailureKind } from "./errors.ts";
import { exchange } from "./exchange.ts";
import { filterBody, idsOf, type IdFilter } from "./id-filter.ts";
import { RequestGate, type InFlightSlots } from "./gate.ts";
import { absentHostFailure, type HostSettings } from "./first-contact.ts";
import { errorDetail, newEnvelopeFields, parsePage, type Page } from "./page.ts";
import {
  CUSTOMERS_ENDPOINT,
  RESOURCE_NAMES,
  type Endpoint,
  type ResourceName,
} from "./resources.ts";
import { classifyStatus, endpointFailure, withRetries } from "./retry.ts";

export type { Page } from "./page.ts";

export interface ElementsClientOptions {
  apiUrl: string;
  /** Asked for each endpoint's token by the endpoint's permission. */
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
  /** The caller's limit on requests in flight, if any. */
  slots?: InFlightSlots | undefined;
}

/** A page of the services or the jobs endpoint (or customers, unfiltered). */
export interface ResourcePageRequest {
  pageIndex: number;
  /** Always sent: the endpoints default to 50. */
  pageSize: number;
  /** Sent as the JSON body (default `{}`), e.g. `{"customerIds": [...]}` for services. */
  body?: Record<string, unknown> | undefined;
  /** The customer whose jobs the jobs endpoint's path names. */
  customerId?: string | undefined;
  /** The caller's limit on requests in flight, if any. */
  slots?: InFlightSlots | undefined;
}

export interface ElementsClient {
  /** A page of the customers endpoint. */
  fetchPage(request: PageRequest, signal?: AbortSignal): Promise<Page>;
  /**
   * A page of `endpoint`. A 403, or the identity service refusing its scope, is a
   * PermissionMissingError; a 404 a fatal ElementsApiError with status 404.
   */
  fetchResourcePage(
    endpoint: Endpoint,
    request: ResourcePageRequest,
    signal?: AbortSignal,
  ): Promise<Page>;
  /**
   * API requests sent so far per resource, every attempt (retries, a repeat after a refused
   * token) counted and token requests not: a run reads it at its start and end.
   */
  requestsMade(): Readonly<Record<ResourceName, number>>;
  /** No page is larger (ELEMENTS_MAX_RESPONSE_BYTES): what a run's memory bound is made of. */
  readonly maxResponseBytes: number;
}

/** One page's request, whichever endpoint it goes to. */
interface PageCall {
  endpoint: Endpoint;
  pageIndex: number;
  pageSize: number;
  body: Record<string, unknown>;
  customerId: string | undefined;
  /** What trace lines say of the request beside its page (never a secret). */
  described: Record<string, unknown>;
  slots: InFlightSlots | undefined;
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
  const requests = Object.fromEntries(RESOURCE_NAMES.map((name) => [name, 0])) as Record<
    ResourceName,
    number
  >;

  /**
   * One attempt, holding a slot at the gate. A 429's pause is set before the slot is
   * released, so no waiting request slips through in between.
   */
  async function attempt(
    call: PageCall,
    budgetLeftMs: () => number,
    signal?: AbortSignal,
  ): Promise<Page> {
    // The caller's slot first (its requests wait their turn), then the gate's pause and limit.
    const slotTaken = await call.slots?.acquire(signal);
    // Given back once: when the body has arrived, or else when the attempt ends.
    let slotHeld = slotTaken !== undefined;
    const received = () => {
      if (!slotHeld) return;
      slotHeld = false;
      slotTaken?.();
    };
    const slot = await gate.acquire(signal).catch((error: unknown) => {
      received();
      throw error;
    });
    let outcome: "ok" | "throttled" | "other" = "other";
    try {
      const envelope = await answer(call, signal, received);
      outcome = "ok";
      return envelope;
    } catch (error) {
      if (!(error instanceof ElementsApiError) || signal?.aborted) throw error;
      if (error.kind === "rate-limited") outcome = "throttled";
      const host = answered[error.service] ? undefined : options.hosts?.[error.service];
      throw (host && absentHostFailure(error, host)) ?? honourRetryAfter(error, budgetLeftMs());
    } finally {
      slot.release(outcome);
      received();
    }
  }

  /**
   * A refused token is replaced once, within the attempt, as the API asks. `received` is
   * called once a page's body has arrived.
   */
  async function answer(
    call: PageCall,
    signal: AbortSignal | undefined,
    received: (() => void) | undefined,
  ): Promise<Page> {
    const permission = call.endpoint.permission;
    const token = await options.tokens.get(signal, permission);
    answered.identity = true;
    const first = await exchangePage(call, { token, mayRefreshToken: true, received }, signal);
    if (first !== TOKEN_REFUSED) return first;
    options.tokens.invalidate(token);
    const renewed = await options.tokens.get(signal, permission);
    const second = await exchangePage(
      call,
      { token: renewed, mayRefreshToken: false, received },
      signal,
    );
    // Only the first answer may be TOKEN_REFUSED; a second 401 is thrown as final.
    if (second === TOKEN_REFUSED) throw new Error("unreachable: a second 401 is thrown");
    return second;
  }

  /** One request and its whole answer, within ELEMENTS_TIMEOUT_MS. */
  function exchangePage(
    call: PageCall,
    {
      token,
      mayRefreshToken,
      received,
    }: { token: string; mayRefreshToken: boolean; received: (() => void) | undefined },
    signal?: AbortSignal,
  ): Promise<Page | typeof TOKEN_REFUSED> {
    return exchange(
      {
        service: "api",
        who: "the Elements API",
        timeoutMs: options.timeoutMs,
        signal,
        log: options.log,
        request: { pageIndex: call.pageIndex, pageSize: call.pageSize, ...call.described },
      },
      (bounded) => {
        requests[call.endpoint.resource] += 1;
        return observed(send(http, call, token, bounded), signal);
      },
      async (response, bounded) => {
        if (response.status === 401 && mayRefreshToken) {
          await response.body?.cancel();
          return TOKEN_REFUSED;
        }
        if (classifyStatus(response.status) === "ok") {
          const body = await readCapped(response, maxResponseBytes, "The Elements API", bounded);
          received?.();
          return parsePage(call.endpoint.resource, body, announceEnvelopeFields);
        }
        // A second 401 in a row means the registration itself is refused: not worth retrying.
        const detail = await errorDetail(response, token, bounded);
        throw endpointFailure(call.endpoint, call.customerId, response, detail);
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

  /** The page, retried within the attempt and time budgets; a failure for good is fatal. */
  function fetchCall(call: PageCall, signal?: AbortSignal): Promise<Page> {
    const request = {
      resource: call.endpoint.resource,
      pageIndex: call.pageIndex,
      customerId: call.customerId,
      name: pageName(call),
    };
    return withRetries(
      options,
      request,
      (budgetLeftMs) => attempt(call, budgetLeftMs, signal),
      signal,
    );
  }

  return {
    maxResponseBytes,
    fetchPage(request, signal) {
      return fetchCall(
        {
          endpoint: CUSTOMERS_ENDPOINT,
          pageIndex: request.pageIndex,
          pageSize: request.pageSize,
          body: filterBody(request.filter),
          customerId: undefined,
          slots: request.slots,
          // A list of a page of ids is too long for a trace line: its form and size say enough.
          described:
            request.filter === undefined
              ? {}
              : { filter: request.filter.form, filterIds: idsOf(request.filter).length },
        },
        signal,
      );
    },
    async fetchResourcePage(endpoint, request, signal) {
      const body = request.body ?? {};
      const { customerIds } = body;
      return fetchCall(
        {
          endpoint,
          pageIndex: request.pageIndex,
          pageSize: request.pageSize,
          body,
          customerId: request.customerId,
          slots: request.slots,
          described: {
            resource: endpoint.resource,
            ...(request.customerId === undefined ? {} : { customerId: request.customerId }),
            ...(Array.isArray(customerIds) ? { filterIds: customerIds.length } : {}),
          },
        },
        signal,
      );
    },
    requestsMade() {
      return Object.freeze({ ...requests });
    },
  };
}

function send(http: KyInstance, call: PageCall, token: string, signal?: AbortSignal) {
  return http.post(call.endpoint.path(call.customerId), {
    searchParams: { pageIndex: call.pageIndex, pageSize: call.pageSize },
    json: call.body,
    headers: { authorization: `Bearer ${token}` },
    ...(signal ? { signal } : {}),
  });
}

/** How a message names the page that gave out: customers' as before, `page 3`. */
function pageName(call: PageCall): string {
  const { resource } = call.endpoint;
  if (call.customerId !== undefined) {
    return `${resource} of customer ${call.customerId}, page ${call.pageIndex}`;
  }
  return resource === "customers" ? `page ${call.pageIndex}` : `${resource} page ${call.pageIndex}`;
}
