// A local stand-in for the AvePoint Elements partner API: the identity service's token
// endpoint and the customers endpoint on one node:http server, with injectable faults,
// added latency and a log of every request. Used by tests, `elements-sync simulate` and the demo.
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CUSTOMERS_PATH } from "../elements/payload.ts";
import { errorMessage } from "../errors.ts";
import { generateCustomers, readCustomersFile } from "./data.ts";
import { Identity } from "./identity.ts";

export const TOKEN_PATH = "/connect/token";
const CUSTOMERS_ROUTE = `/${CUSTOMERS_PATH}`;
const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_PAGE_SIZE = 100;

export interface SimulatorOptions {
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
  /** Default 100; a larger pageSize gets 400. */
  maxPageSize?: number;
  /**
   * Serve at most this many records per page whatever the request asks, and report that
   * size in metadata.pageSize (as the documented sample does), like a server that caps pages.
   */
  servedPageSize?: number;
  /** Receives one line per request (and why a token request was refused); never a secret. */
  log?: (line: string) => void;
}

export interface RequestLogEntry {
  /** When the request arrived (ms since the epoch). */
  at: number;
  path: string;
  pageIndex?: number;
  pageSize?: number;
  customerId?: string;
  /** The status answered; 0 when the connection was reset without an answer. */
  status: number;
}

export interface Fault {
  /** The status to answer with. Without it (and without `reset`) the real answer is sent, after `delayMs`. */
  status?: number;
  /** Wait this long before answering, e.g. longer than the client's timeout. */
  delayMs?: number;
  /** Close the connection without answering (logged with status 0). */
  reset?: boolean;
  /** Sent as the Retry-After header. */
  retryAfter?: string;
  /** Sent verbatim instead of the default small JSON error. */
  body?: string;
  /** How many matching requests get this fault (default 1). */
  times?: number;
  /** Default "customers". */
  endpoint?: "customers" | "token";
  /** Only customers requests for this pageIndex. */
  onPage?: number;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:PORT (no trailing slash): both the API and the identity base URL. */
  url: string;
  /** Every answered request, in the order the answers were sent. */
  requests: RequestLogEntry[];
  /** Queues a fault: the next matching request(s) get this response instead of the real one. */
  injectFault(fault: Fault): void;
  /** Every access token issued so far, for tests that check none reaches a log. */
  issuedTokens(): string[];
  /** Every token issued so far becomes invalid (the next API call with one gets 401). */
  expireTokens(): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string>;
  note?: string | undefined;
  /** Destroy the connection instead of answering. */
  reset?: boolean;
}

const RESET: Reply = { status: 0, body: "", headers: {}, reset: true };

interface QueuedFault extends Fault {
  remaining: number;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const port = checkedInteger("port", options.port ?? 0, 0, 65535);
  const customerCount = checkedInteger("customers", options.customers ?? 250, 0);
  const seed = checkedInteger("seed", options.seed ?? 1, Number.MIN_SAFE_INTEGER);
  const latencyMs = checkedInteger("latencyMs", options.latencyMs ?? 0, 0);
  const maxPageSize = checkedInteger("maxPageSize", options.maxPageSize ?? DEFAULT_PAGE_SIZE, 1);
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
  const loadCustomers = (): Promise<readonly unknown[]> =>
    dataFile === undefined ? Promise.resolve(generated) : readCustomersFile(dataFile);

  const faults: QueuedFault[] = [];
  const requests: RequestLogEntry[] = [];
  const closing = new AbortController();
  let url = "";

  function takeFault(endpoint: "customers" | "token", pageIndex?: number): QueuedFault | undefined {
    const index = faults.findIndex(
      (fault) =>
        (fault.endpoint ?? "customers") === endpoint &&
        (fault.onPage === undefined || fault.onPage === pageIndex),
    );
    const fault = faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) faults.splice(index, 1);
    return fault;
  }

  /** What a fault makes of a request: a delay, then a reset, its own reply, or the real one. */
  async function applyFault(
    endpoint: "customers" | "token",
    pageIndex: number | undefined,
  ): Promise<Reply | undefined> {
    const fault = takeFault(endpoint, pageIndex);
    if (fault === undefined) return undefined;
    if (fault.delayMs !== undefined)
      await sleep(fault.delayMs, undefined, { signal: closing.signal });
    if (fault.reset) return RESET;
    if (fault.status === undefined) return undefined;
    const headers: Record<string, string> = {};
    if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
    if (fault.body === undefined) {
      const message = `simulated fault: ${fault.status} ${STATUS_CODES[fault.status] ?? ""}`.trim();
      return jsonReply(fault.status, { error: "simulated_fault", message }, headers);
    }
    const contentType = isJson(fault.body) ? "application/json" : "text/plain; charset=utf-8";
    return {
      status: fault.status,
      body: fault.body,
      headers: { "content-type": contentType, ...headers },
    };
  }

  async function tokenEndpoint(request: IncomingMessage, body: string): Promise<Reply> {
    const fault = await applyFault("token", undefined);
    if (fault) return fault;
    const contentType = request.headers["content-type"] ?? "";
    if (!/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
      return jsonReply(400, {
        error: "invalid_request",
        error_description: "the body must be application/x-www-form-urlencoded",
      });
    }
    const result = identity.token(new URLSearchParams(body), `${url}${TOKEN_PATH}`);
    return {
      ...jsonReply(result.status, result.body, { "cache-control": "no-store" }),
      note: result.note,
    };
  }

  async function customersEndpoint(
    request: IncomingMessage,
    query: URLSearchParams,
    body: string,
    entry: RequestLogEntry,
  ): Promise<Reply> {
    const pageIndex = integerParameter(query.get("pageIndex"), 1);
    const pageSize = integerParameter(query.get("pageSize"), DEFAULT_PAGE_SIZE);
    const filter = parseFilter(body);
    if (pageIndex !== undefined) entry.pageIndex = pageIndex;
    if (pageSize !== undefined) entry.pageSize = pageSize;
    if (typeof filter === "object" && filter.customerId !== undefined)
      entry.customerId = filter.customerId;

    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });
    const fault = await applyFault("customers", pageIndex);
    if (fault) return fault;

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
    const { customerId } = filter;
    const selected =
      customerId === undefined
        ? customers
        : customers.filter((record) => isObject(record) && record.id === customerId);
    const served = Math.min(pageSize, options.servedPageSize ?? pageSize);
    const start = (pageIndex - 1) * served;
    return jsonReply(200, {
      data: selected.slice(start, start + served),
      metadata: { pageIndex, pageSize: served, totalCount: selected.length },
    });
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
      return tokenEndpoint(request, body);
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
    const entry: RequestLogEntry = { at, path: target.pathname, status: 0 };
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
    response.end(reply.body);
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
      if (fault.status === undefined) {
        if (!fault.reset && fault.delayMs === undefined) {
          throw new RangeError("a fault needs a status, reset or delayMs");
        }
      } else {
        checkedInteger("fault status", fault.status, 100, 599);
      }
      if (fault.delayMs !== undefined) checkedInteger("fault delayMs", fault.delayMs, 0);
      const remaining = checkedInteger("fault times", fault.times ?? 1, 1);
      if (fault.onPage !== undefined) {
        checkedInteger("fault onPage", fault.onPage, 1);
        if (fault.endpoint === "token")
          throw new RangeError("onPage applies to customers faults only");
      }
      faults.push({ ...fault, remaining });
    },
    issuedTokens() {
      return identity.issued();
    },
    expireTokens() {
      identity.expireAll();
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

function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    body: JSON.stringify(value),
    headers: { "content-type": "application/json", ...headers },
  };
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

/** The customers request body's filter, or a message saying what is wrong with the body. */
function parseFilter(body: string): { customerId?: string } | string {
  if (body.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "the body is not valid JSON";
  }
  if (!isObject(value)) return "the body must be a JSON object";
  const { customerId } = value;
  if (customerId === undefined || customerId === null) return {};
  if (typeof customerId !== "string") return "customerId must be a string";
  return { customerId };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function checkedInteger(
  name: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
