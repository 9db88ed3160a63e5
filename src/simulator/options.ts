// The simulator's public shapes: its options, the API versions it speaks, the request log
// and the handle a test holds. server.ts re-exports them.
import type { FilterForm } from "../elements/id-filter.ts";
import type { ChaosOptions } from "./chaos.ts";
import type { ServedData } from "./data.ts";
import type { Fault } from "./faults.ts";

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

export const VERSIONS: Record<ApiVersion, { filterField: FilterForm; defaultPageSize: number }> = {
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
  /**
   * Instead of generated data: a JSON file `{"customers": [...]}`, with optional `services`
   * and `jobs` (see README, "The --data file"), re-read on every request.
   */
  dataFile?: string;
  /**
   * Permissions the app registration lacks: a token request asking for one gets
   * `invalid_scope`, and its endpoint answers 403.
   */
  deny?: readonly string[];
  clientId?: string;
  clientSecret?: string;
  /** PEM certificate (public) whose key may sign private_key_jwt client assertions. */
  certificatePem?: string;
  tokenLifetimeSeconds?: number;
  /** Delay added to each customers, services and jobs response (default 0). */
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
  /**
   * The clock (ms since the epoch; default Date.now), read on every services request: the
   * generated subscriptions renew as it passes their expiration dates. Tests pass a fixed
   * or stepped one; derived jobs take their day from its reading at start.
   */
  now?: () => number;
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
  /**
   * Serves these customers from the next request on, over the data file's (whose services
   * and jobs, if it has them, still apply); undefined goes back to it.
   */
  setCustomers(customers: readonly unknown[] | undefined): void;
  /**
   * The registration lacks these permissions from now on (none: all granted). Tokens issued
   * before keep their scopes, but the endpoint of a denied permission answers them 403.
   */
  denyPermissions(permissions: readonly string[]): void;
  /**
   * Serves these services items and these jobs (by customer id) from the next request on,
   * over the data file's or the derived ones; a list left out, or undefined, goes back to them.
   */
  setResources(resources: Omit<ServedData, "customers"> | undefined): void;
  /** Sets (or with undefined, removes) the hook run before each customers page is cut. */
  onCustomersRequest(hook: CustomersHook | undefined): void;
  /** Starts the chaos mode afresh with these options, or stops it. */
  setChaos(chaos: ChaosOptions | undefined): void;
  close(): Promise<void>;
}
