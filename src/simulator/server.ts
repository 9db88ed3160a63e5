// A local stand-in for the AvePoint Elements partner API: the identity service's token
// endpoint and the customers, services and backup jobs endpoints on one node:http server,
// with injectable faults, a chaos mode, data a test can change mid-run, permissions a test
// can deny, added latency and a log of every request.
// Used by tests, `elements-sync simulate` and the demo.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CUSTOMERS_PATH,
  CUSTOMERS_PERMISSION,
  JOBS_PERMISSION,
  LICENSE_PERMISSION,
  SERVICES_PATH,
} from "../elements/resources.ts";
import { errorMessage } from "../errors.ts";
import { Chaos } from "./chaos.ts";
import { DataSource, generateCustomers, type ServedData } from "./data.ts";
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
import {
  authorize,
  badRequest,
  MAX_BODY_BYTES,
  pagingOf,
  integerParameter,
  parseFilter,
  readBody,
  trickled,
} from "./http.ts";
import { Identity } from "./identity.ts";
import { jobsAnswer, jobsCustomerId } from "./jobs.ts";
import { checkedPermissions, type Permission } from "./permissions.ts";
import { afterLatency, jsonReply, RESET, writeReply, type Reply } from "./reply.ts";
import { servicesAnswer, startOfDay } from "./services.ts";
import {
  API_VERSIONS,
  isApiVersion,
  VERSIONS,
  type CustomersHook,
  type RequestLogEntry,
  type Simulator,
  type SimulatorOptions,
} from "./options.ts";

export type { ChaosKind, ChaosOptions } from "./chaos.ts";
export type { Fault, PageCorruption } from "./faults.ts";
export { API_VERSIONS, isApiVersion } from "./options.ts";
export type {
  ApiVersion,
  CustomersHook,
  CustomersRequest,
  RequestLogEntry,
  Simulator,
  SimulatorOptions,
} from "./options.ts";
export { PERMISSIONS } from "./permissions.ts";

export const TOKEN_PATH = "/connect/token";
const CUSTOMERS_ROUTE = `/${CUSTOMERS_PATH}`;
const SERVICES_ROUTE = `/${SERVICES_PATH}`;
const HOST = "127.0.0.1";
const MAX_PAGE_SIZE = 100;
/** The services and jobs endpoints' documented default. */
const RESOURCE_PAGE_SIZE = 50;

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
  let denied: ReadonlySet<Permission> = checkedPermissions(options.deny ?? []);
  const identity = new Identity({
    get denied() {
      return denied;
    },
    clientId: options.clientId ?? "demo-client",
    clientSecret: options.clientSecret ?? "demo-secret",
    certificatePem: options.certificatePem,
    tokenLifetimeSeconds,
  });
  const { dataFile } = options;
  const data = new DataSource(
    dataFile,
    dataFile === undefined ? generateCustomers(customerCount, seed) : [],
  );
  // Derived subscriptions are as of each request (they renew as days pass); derived jobs
  // count their dates from the day the simulator started.
  const clock = options.now ?? Date.now;
  const today = startOfDay(clock());
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
    customerId?: string,
  ): Fault | undefined {
    const queued = faults.take(endpoint, pageIndex, customerId);
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

    const fault = pickFault("customers", pageIndex, entry);
    const faulted = await preempt(fault);
    if (faulted) return faulted;

    const refused = authorize(request, identity, CUSTOMERS_PERMISSION, denied);
    if (refused) return refused;
    const paging = pagingOf(pageIndex, pageSize, maxPageSize);
    if (typeof paging === "string") return badRequest(paging);
    if (typeof filter === "string") return badRequest(filter);

    let customers: readonly unknown[];
    try {
      ({ customers } = await data.load(false));
    } catch (error) {
      return jsonReply(500, { error: "data_file_unreadable", message: errorMessage(error) });
    }
    const customerIds = options.ignoreIdFilter ? undefined : filter.ids;
    const replaced = await customersHook?.({ ...paging, customerIds, customers });
    if (replaced) {
      data.setCustomers(replaced);
      customers = replaced;
    }
    const wanted = customerIds === undefined ? undefined : new Set(customerIds);
    const selected =
      wanted === undefined
        ? customers
        : customers.filter(
            (record) => isObject(record) && typeof record.id === "string" && wanted.has(record.id),
          );
    const served = Math.min(paging.pageSize, options.servedPageSize ?? paging.pageSize);
    const start = fault?.ignorePageIndex ? 0 : (paging.pageIndex - 1) * served;
    const page: Page = {
      data: selected.slice(start, start + served),
      metadata: {
        pageIndex: fault?.reportPageIndex ?? paging.pageIndex,
        pageSize: served,
        totalCount: fault?.totalCount ?? selected.length,
      },
    };
    const reply = jsonReply(200, page);
    if (fault?.corrupt === undefined) return trickled(reply, fault);
    const spoiled = corruptPage(fault.corrupt, page, selected, start, fault.record);
    return trickled({ ...reply, body: spoiled }, fault);
  }

  /**
   * The services and backup jobs endpoints, in the customers endpoint's order: latency, a
   * fault, the token and the endpoint's permission, paging, then the answer.
   */
  async function resourceEndpoint(
    request: IncomingMessage,
    endpoint: "services" | "jobs",
    query: URLSearchParams,
    body: string,
    entry: RequestLogEntry,
    customerId = "",
  ): Promise<Reply> {
    const pageIndex = integerParameter(query.get("pageIndex"), 1);
    const pageSize = integerParameter(query.get("pageSize"), RESOURCE_PAGE_SIZE);
    if (pageIndex !== undefined) entry.pageIndex = pageIndex;
    if (pageSize !== undefined) entry.pageSize = pageSize;
    const filter = endpoint === "services" ? parseFilter(body, "customerIds") : undefined;
    if (typeof filter === "object") Object.assign(entry, filter.sent);

    const fault = pickFault(endpoint, pageIndex, entry, customerId);
    const faulted = await preempt(fault);
    if (faulted) return faulted;
    const permission = endpoint === "services" ? LICENSE_PERMISSION : JOBS_PERMISSION;
    const refused = authorize(request, identity, permission, denied);
    if (refused) return refused;
    const paging = pagingOf(pageIndex, pageSize, maxPageSize);
    if (typeof paging === "string") return badRequest(paging);
    if (typeof filter === "string") return badRequest(filter);

    let served: ServedData;
    try {
      served = await data.load(true);
    } catch (error) {
      return jsonReply(500, { error: "data_file_unreadable", message: errorMessage(error) });
    }
    const reply =
      filter === undefined
        ? jobsAnswer(served, customerId, body, paging, seed, today)
        : servicesAnswer(served, filter.ids, paging, seed, clock());
    return trickled(reply, fault);
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
      return afterLatency(latencyMs, closing.signal, () =>
        customersEndpoint(request, target.searchParams, body, entry),
      );
    }
    if (request.method === "POST" && target.pathname === SERVICES_ROUTE) {
      return afterLatency(latencyMs, closing.signal, () =>
        resourceEndpoint(request, "services", target.searchParams, body, entry),
      );
    }
    const jobsOf = request.method === "POST" ? jobsCustomerId(target.pathname) : undefined;
    if (jobsOf !== undefined) {
      return afterLatency(latencyMs, closing.signal, () =>
        resourceEndpoint(request, "jobs", target.searchParams, body, entry, jobsOf),
      );
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
    writeReply(request, response, reply, closing.signal);
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
    denyPermissions(permissions) {
      denied = checkedPermissions(permissions);
    },
    setCustomers(customers) {
      data.setCustomers(customers);
    },
    setResources(resources) {
      data.setResources(resources);
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
