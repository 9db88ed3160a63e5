// A local stand-in for the AvePoint Elements partner API: the identity service's token
// endpoint and the customers endpoint on one node:http server, with injectable faults,
// a chaos mode, data a test can change mid-run, added latency and a log of every request.
// Used by tests, `elements-sync simulate` and the demo.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { FilterForm } from "../elements/id-filter.ts";
import { CUSTOMERS_PATH } from "../elements/payload.ts";
import { errorMessage } from "../errors.ts";
import { Chaos, type ChaosOptions } from "./chaos.ts";
import { generateCustomers, readCustomersFile } from "./data.ts";
import { checkedInteger, isObject } from "../values.ts";
import {
  corruptPage,
  describeFault,
  FaultQueue,
  statusReply,
  type Fault,
  type FaultEndpoint,
  type Page,
} from "./faults.ts";
import { Identity } from "./identity.ts";
import { jsonReply, RESET, type Reply } from "./reply.ts";

export type { ChaosKind, ChaosOptions } from "./chaos.ts";
export type { Fault, PageCorruption } from "./faults.ts";

export const TOKEN_PATH = "/connect/token";
const CUSTOMERS_ROUTE = `/${CUSTOMERS_PATH}`;
const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_PAGE_SIZE = 100;

/**
 * The versions of the customers endpoint the simulator speaks (elements-api.md, "The live
 * documentation differs from the seed"): today's filters by `customerIds` and pages by 50
 * unless asked; the seed's filters by `customerId` and pages by 100. Each ignores the other's
 * field, as the real server ignores body fields it does not know.
 */
export const API_VERSIONS = ["2025-10", "seed"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

export function isApiVersion(value: string): value is ApiVersion {
  return (API_VERSIONS as readonly string[]).includes(value);
}

const VERSIONS: Record<ApiVersion, { filterField: FilterForm; defaultPageSize: number }> = {
  "2025-10": { filterField: "customerIds", defaultPageSize: 50 },
  seed: { filterField: "customerId", defaultPageSize: 100 },
};

export interface SimulatorOptions {
  /** The endpoint's version (default 2025-10, today's documentation). */
  apiVersion?: ApiVersion;
  /**
   * Tests only: a server that applies neither form of the id filter (validated as its
   * version says, then ignored), answering every request with the unfiltered list.
   */
  ignoreIdFilter?: boolean;
  /** 0 / undefined = a free port. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1; 0.0.0.0 to serve other containers). */
  host?: string;
  /** Generated data: how many customers (default 250). */
  customers?: number;
  /** Generated data: PRNG seed (default 1); the same seed and count give identical data. */
  seed?: number;
  /** Instead of generated data: a JSON file `{"customers": [...]}`, re-read on every customers request. */
  dataFile?: string;
  clientId?: string;
  clientSecret?: string;
  /** PEM certificate (public) whose key may sign private_key_jwt client assertions. */
  certificatePem?: string;
  tokenLifetimeSeconds?: number;
  /** Delay added to each customers response (default 0). */
  latencyMs?: number;
  /** Default 100 (both versions document it); a larger pageSize gets 400. */
  maxPageSize?: number;
  /**
   * Serve at most this many records per page whatever the request asks, and report that
   * size in metadata.pageSize (as the documented sample does), like a server that caps pages.
   */
  servedPageSize?: number;
  /** Receives one line per request (and why a token request was refused); never a secret. */
  log?: (line: string) => void;
  /** Random faults from a seeded PRNG; queued faults go first. */
  chaos?: ChaosOptions;
}

export interface RequestLogEntry {
  /** When the request arrived (ms since the epoch). */
  at: number;
  path: string;
  /** The query string as sent, with its `?` ("" without one). */
  search: string;
  pageIndex?: number;
  /** As sent, or the version's default when the query has none. */
  pageSize?: number;
  /** The body's `customerId` when it was a string, whether the version honours it or not. */
  customerId?: string;
  /** The body's `customerIds` when it was a list of strings, honoured or not. */
  customerIds?: string[];
  /** The status answered; 0 when the connection was reset without an answer. */
  status: number;
  /** The fault this request got, e.g. `status 503` or `chaos reset`. */
  fault?: string;
}

/** A valid customers request, as a data hook sees it. */
export interface CustomersRequest {
  pageIndex: number;
  pageSize: number;
  /** The ids the answer is filtered by (in whichever form the version honours); undefined: all. */
  customerIds: readonly string[] | undefined;
  /** What would be served: the in-memory data, the data file's or the generated. */
  customers: readonly unknown[];
}

/**
 * Runs (awaited) before a customers page is cut from the data. Returning a list replaces
 * the data from then on, as `setCustomers` does: inserting or deleting shifts the offsets
 * of later pages and changes totalCount mid-run.
 */
export type CustomersHook = (
  request: CustomersRequest,
) => readonly unknown[] | undefined | Promise<readonly unknown[] | undefined>;

export interface Simulator {
  /** e.g. http://127.0.0.1:PORT (no trailing slash): both the API and the identity base URL. */
  url: string;
  /** Every answered request, in the order the answers were sent. */
  requests: RequestLogEntry[];
  /** Queues a fault: the next matching request(s) get this response instead of the real one. */
  injectFault(fault: Fault): void;
  /** Drops every queued fault not yet served. */
  clearFaults(): void;
  /** Every access token issued so far, for tests that check none reaches a log. */
  issuedTokens(): string[];
  /** Every token issued so far becomes invalid (the next API call with one gets 401). */
  expireTokens(): void;
  /** Serves these records from the next request on, over the data file; undefined goes back to it. */
  setCustomers(customers: readonly unknown[] | undefined): void;
  /** Sets (or with undefined, removes) the hook run before each customers page is cut. */
  onCustomersRequest(hook: CustomersHook | undefined): void;
  /** Starts the chaos mode afresh with these options, or stops it. */
  setChaos(chaos: ChaosOptions | undefined): void;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const port = checkedInteger("port", options.port ?? 0, 0, 65535);
  const customerCount = checkedInteger("customers", options.customers ?? 250, 0);
  const seed = checkedInteger("seed", options.seed ?? 1, Number.MIN_SAFE_INTEGER);
  const latencyMs = checkedInteger("latencyMs", options.latencyMs ?? 0, 0);
  const maxPageSize = checkedInteger("maxPageSize", options.maxPageSize ?? MAX_PAGE_SIZE, 1);
  // Checked at run time too: the demo and scripts pass what they were given.
  const apiVersion: string = options.apiVersion ?? "2025-10";
  if (!isApiVersion(apiVersion)) {
    throw new RangeError(`apiVersion must be one of ${API_VERSIONS.join(", ")}, got ${apiVersion}`);
  }
  const version = VERSIONS[apiVersion];
  const tokenLifetimeSeconds = checkedInteger(
    "tokenLifetimeSeconds",
    options.tokenLifetimeSeconds ?? 3600,
    1,
  );
  const log = options.log ?? (() => undefined);
  const identity = new Identity({
    clientId: options.clientId ?? "demo-client",
    clientSecret: options.clientSecret ?? "demo-secret",
    certificatePem: options.certificatePem,
    tokenLifetimeSeconds,
  });
  const { dataFile } = options;
  const generated = dataFile === undefined ? generateCustomers(customerCount, seed) : [];
  let inMemory: readonly unknown[] | undefined;
  const loadCustomers = (): Promise<readonly unknown[]> => {
    if (inMemory !== undefined) return Promise.resolve(inMemory);
    return dataFile === undefined ? Promise.resolve(generated) : readCustomersFile(dataFile);
  };
  let customersHook: CustomersHook | undefined;

  const faults = new FaultQueue();
  let chaos = options.chaos === undefined ? undefined : new Chaos(options.chaos);
  const requests: RequestLogEntry[] = [];
  const closing = new AbortController();
  let url = "";

  /** The fault this request gets, if any: a queued one first, else chaos's draw. */
  function pickFault(
    endpoint: FaultEndpoint,
    pageIndex: number | undefined,
    entry: RequestLogEntry,
  ): Fault | undefined {
    const queued = faults.take(endpoint, pageIndex);
    if (queued !== undefined) {
      entry.fault = describeFault(queued);
      return queued;
    }
    const drawn = chaos?.next(endpoint);
    if (drawn !== undefined) entry.fault = `chaos ${drawn.kind}`;
    return drawn?.fault;
  }

  /**
   * What a fault does before the real answer: a delay, expired tokens, then a reset or its
   * own reply; undefined lets the real answer through.
   */
  async function preempt(fault: Fault | undefined): Promise<Reply | undefined> {
    if (fault === undefined) return undefined;
    if (fault.delayMs !== undefined)
      await sleep(fault.delayMs, undefined, { signal: closing.signal });
    if (fault.expireTokens) identity.expireAll();
    if (fault.reset) return RESET;
    if (fault.status === undefined) return undefined;
    return trickled(statusReply({ ...fault, status: fault.status }), fault);
  }

  async function tokenEndpoint(
    request: IncomingMessage,
    body: string,
    entry: RequestLogEntry,
  ): Promise<Reply> {
    const fault = pickFault("token", undefined, entry);
    const faulted = await preempt(fault);
    if (faulted) return faulted;
    const contentType = request.headers["content-type"] ?? "";
    if (!/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
      return jsonReply(400, {
        error: "invalid_request",
        error_description: "the body must be application/x-www-form-urlencoded",
      });
    }
    const result = identity.token(new URLSearchParams(body), `${url}${TOKEN_PATH}`);
    const reply = jsonReply(result.status, result.body, { "cache-control": "no-store" });
    return trickled({ ...reply, note: result.note }, fault);
  }

  async function customersEndpoint(
    request: IncomingMessage,
    query: URLSearchParams,
    body: string,
    entry: RequestLogEntry,
  ): Promise<Reply> {
    const pageIndex = integerParameter(query.get("pageIndex"), 1);
    const pageSize = integerParameter(query.get("pageSize"), version.defaultPageSize);
    const filter = parseFilter(body, version.filterField);
    if (pageIndex !== undefined) entry.pageIndex = pageIndex;
    if (pageSize !== undefined) entry.pageSize = pageSize;
    if (typeof filter === "object") Object.assign(entry, filter.sent);

    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });
    const fault = pickFault("customers", pageIndex, entry);
    const faulted = await preempt(fault);
    if (faulted) return faulted;

    const token = /^Bearer +(\S+)\s*$/i.exec(request.headers.authorization ?? "")?.[1];
    if (token === undefined || !identity.isValid(token)) {
      const message =
        token === undefined ? "a bearer token is required" : "the token is unknown or expired";
      return jsonReply(
        401,
        { error: "invalid_token", message },
        { "www-authenticate": 'Bearer error="invalid_token"' },
      );
    }
    if (pageIndex === undefined || pageIndex < 1) {
      return jsonReply(400, {
        error: "bad_request",
        message: "pageIndex must be an integer of at least 1",
      });
    }
    if (pageSize === undefined || pageSize < 1 || pageSize > maxPageSize) {
      return jsonReply(400, {
        error: "bad_request",
        message: `pageSize must be an integer from 1 to ${maxPageSize}`,
      });
    }
    if (typeof filter === "string")
      return jsonReply(400, { error: "bad_request", message: filter });

    let customers: readonly unknown[];
    try {
      customers = await loadCustomers();
    } catch (error) {
      return jsonReply(500, { error: "data_file_unreadable", message: errorMessage(error) });
    }
    const customerIds = options.ignoreIdFilter ? undefined : filter.ids;
    const replaced = await customersHook?.({ pageIndex, pageSize, customerIds, customers });
    if (replaced) customers = inMemory = [...replaced];
    const wanted = customerIds === undefined ? undefined : new Set(customerIds);
    const selected =
      wanted === undefined
        ? customers
        : customers.filter(
            (record) => isObject(record) && typeof record.id === "string" && wanted.has(record.id),
          );
    const served = Math.min(pageSize, options.servedPageSize ?? pageSize);
    const start = fault?.ignorePageIndex ? 0 : (pageIndex - 1) * served;
    const page: Page = {
      data: selected.slice(start, start + served),
      metadata: {
        pageIndex: fault?.reportPageIndex ?? pageIndex,
        pageSize: served,
        totalCount: fault?.totalCount ?? selected.length,
      },
    };
    const reply = jsonReply(200, page);
    if (fault?.corrupt === undefined) return trickled(reply, fault);
    const spoiled = corruptPage(fault.corrupt, page, selected, start, fault.record);
    return trickled({ ...reply, body: spoiled }, fault);
  }

  async function route(
    request: IncomingMessage,
    entry: RequestLogEntry,
    target: URL,
  ): Promise<Reply> {
    const body = await readBody(request);
    if (body === undefined) {
      return jsonReply(413, {
        error: "payload_too_large",
        message: `the body exceeds ${MAX_BODY_BYTES} bytes`,
      });
    }
    if (request.method === "POST" && target.pathname === TOKEN_PATH)
      return tokenEndpoint(request, body, entry);
    if (request.method === "POST" && target.pathname === CUSTOMERS_ROUTE) {
      return customersEndpoint(request, target.searchParams, body, entry);
    }
    return jsonReply(404, {
      error: "not_found",
      message: `no route for ${request.method ?? "?"} ${target.pathname}`,
    });
  }

  async function respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const at = Date.now();
    const target = new URL(request.url ?? "/", "http://simulator.invalid");
    const entry: RequestLogEntry = { at, path: target.pathname, search: target.search, status: 0 };
    let reply: Reply;
    try {
      reply = await route(request, entry, target);
    } catch (error) {
      if (closing.signal.aborted) {
        response.destroy();
        return;
      }
      reply = jsonReply(500, { error: "internal_error", message: errorMessage(error) });
    }
    entry.status = reply.status;
    requests.push(entry);
    const note = reply.note === undefined ? "" : ` (${reply.note})`;
    log(
      `${request.method ?? "?"} ${target.pathname}${target.search} -> ${reply.status} in ${Date.now() - at} ms${note}`,
    );
    if (response.destroyed) return;
    if (reply.reset) {
      request.socket.destroy();
      return;
    }
    response.writeHead(reply.status, {
      ...reply.headers,
      "content-length": String(Buffer.byteLength(reply.body)),
    });
    if (reply.trickleMs === undefined) response.end(reply.body);
    else trickle(response, Buffer.from(reply.body), reply.trickleMs, closing.signal);
  }

  const server = createServer((request, response) => {
    void respond(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.host ?? HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Listening on every interface, it is still reached locally at 127.0.0.1.
  const reachedAt = options.host === undefined || options.host === "0.0.0.0" ? HOST : options.host;
  url = `http://${reachedAt}:${(server.address() as AddressInfo).port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    requests,
    injectFault(fault) {
      faults.push(fault);
    },
    clearFaults() {
      faults.clear();
    },
    issuedTokens() {
      return identity.issued();
    },
    expireTokens() {
      identity.expireAll();
    },
    setCustomers(customers) {
      inMemory = customers === undefined ? undefined : [...customers];
    },
    onCustomersRequest(hook) {
      customersHook = hook;
    },
    setChaos(next) {
      chaos = next === undefined ? undefined : new Chaos(next);
    },
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** `reply` sent slowly when `fault` says to trickle it. */
function trickled(reply: Reply, fault: Fault | undefined): Reply {
  return fault?.trickleMs === undefined ? reply : { ...reply, trickleMs: fault.trickleMs };
}

/**
 * Writes `body` one byte every `intervalMs` (headers already sent), as a stalled server
 * does; stops when the client hangs up or the simulator closes.
 */
function trickle(
  response: ServerResponse,
  body: Buffer,
  intervalMs: number,
  closing: AbortSignal,
): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= body.length) {
      stop();
      response.end();
      return;
    }
    response.write(body.subarray(sent, sent + 1));
    sent += 1;
  }, intervalMs);
  const stop = () => {
    clearInterval(timer);
    closing.removeEventListener("abort", stop);
  };
  response.once("close", stop);
  closing.addEventListener("abort", stop, { once: true });
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES. */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Drains the whole body even when it is too large, so that the client still gets the 413.
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString("utf8");
}

/** The parameter as an integer, `fallback` when absent, undefined when not an integer. */
function integerParameter(raw: string | null, fallback: number): number | undefined {
  if (raw === null) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

interface Filter {
  /** The ids the version's own field asks for; undefined: no filter. */
  ids: readonly string[] | undefined;
  /** Both fields as the body carried them (when well-formed), for the request log. */
  sent: Pick<RequestLogEntry, "customerId" | "customerIds">;
}

/**
 * The customers request body's filter, in the field `honoured` (the version's), or a
 * message saying what is wrong with the body. The other field is ignored, whatever it holds,
 * as a server ignores a property its model does not have. An empty `customerIds` filters
 * nothing: the list is optional, and an empty one asks for no particular customer.
 */
function parseFilter(body: string, honoured: FilterForm): Filter | string {
  if (body.trim() === "") return { ids: undefined, sent: {} };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "the body is not valid JSON";
  }
  if (!isObject(value)) return "the body must be a JSON object";
  const { customerId, customerIds } = value;
  const sent: Filter["sent"] = {
    ...(typeof customerId === "string" ? { customerId } : {}),
    ...(isStringList(customerIds) ? { customerIds } : {}),
  };
  if (honoured === "customerId") {
    if (customerId === undefined || customerId === null) return { ids: undefined, sent };
    if (typeof customerId !== "string") return "customerId must be a string";
    return { ids: [customerId], sent };
  }
  if (customerIds === undefined || customerIds === null) return { ids: undefined, sent };
  if (!isStringList(customerIds)) return "customerIds must be an array of strings";
  return { ids: customerIds.length === 0 ? undefined : customerIds, sent };
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
