// Faults the simulator can inject into an answer: a status of its own (with Retry-After and
// a body), a delay, a reset connection, expired tokens, a body that trickles, a real page
// corrupted on its way out, or paging metadata that lies. Tests queue them by hand; the
// chaos mode draws them at random.
import { STATUS_CODES } from "node:http";
import { checkedInteger, isObject } from "../values.ts";
import { jsonReply, type Reply } from "./reply.ts";

export type FaultEndpoint = "customers" | "services" | "jobs" | "token";

/**
 * How a real 200 page is spoiled:
 * - `truncated-json`: the body is cut in half, so it is not JSON;
 * - `wrong-shape`: valid JSON, but `items` instead of `data`;
 * - `missing-id`, `wrong-type` (jobStatus as a string): one record the client must reject;
 * - `unknown-code`: one record with jobStatus 99, which no documented list has;
 * - `duplicate`: one record replaced by a copy of the first record of the next page (the
 *   same customer on two pages, and the replaced one never seen).
 */
export type PageCorruption =
  "truncated-json" | "wrong-shape" | "missing-id" | "wrong-type" | "unknown-code" | "duplicate";

export const PAGE_CORRUPTIONS: readonly PageCorruption[] = [
  "truncated-json",
  "wrong-shape",
  "missing-id",
  "wrong-type",
  "unknown-code",
  "duplicate",
];

export const UNKNOWN_JOB_STATUS = 99;

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
  endpoint?: FaultEndpoint;
  /** Only customers, services or jobs requests for this pageIndex. */
  onPage?: number;
  /** Jobs only: only requests for this customer's jobs. */
  customerId?: string;
  /** Customers only: the real page is served, spoiled this way. */
  corrupt?: PageCorruption;
  /** Which record of the page a record-level corruption hits (default 0, wraps around). */
  record?: number;
  /** Not on the token endpoint: every token issued so far expires just before this request is answered. */
  expireTokens?: boolean;
  /** The headers at once, then the body (real or the fault's own) one byte every trickleMs. */
  trickleMs?: number;
  /** Customers only: metadata.totalCount says this instead of the real count. */
  totalCount?: number;
  /** Customers only: page 1's records, whatever pageIndex asks for (metadata echoes the ask). */
  ignorePageIndex?: boolean;
  /** Customers only: metadata.pageIndex says this instead of the page asked for. */
  reportPageIndex?: number;
}

interface QueuedFault extends Fault {
  remaining: number;
}

/** Faults queued by tests, handed out first come first served to the requests they match. */
export class FaultQueue {
  readonly #faults: QueuedFault[] = [];

  push(fault: Fault): void {
    this.#faults.push({ ...fault, remaining: checkFault(fault) });
  }

  clear(): void {
    this.#faults.length = 0;
  }

  take(endpoint: FaultEndpoint, pageIndex?: number, customerId?: string): Fault | undefined {
    const index = this.#faults.findIndex(
      (fault) =>
        (fault.endpoint ?? "customers") === endpoint &&
        (fault.onPage === undefined || fault.onPage === pageIndex) &&
        (fault.customerId === undefined || fault.customerId === customerId),
    );
    const fault = this.#faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.#faults.splice(index, 1);
    return fault;
  }
}

/** Throws a RangeError for a fault that cannot be served; returns how many times it applies. */
export function checkFault(fault: Fault): number {
  const pagingLie =
    fault.totalCount !== undefined ||
    fault.ignorePageIndex === true ||
    fault.reportPageIndex !== undefined;
  const endpoint = fault.endpoint ?? "customers";
  const customersOnly = fault.corrupt !== undefined || pagingLie;
  if (customersOnly && endpoint !== "customers") {
    throw new RangeError(
      "corrupt, totalCount, ignorePageIndex and reportPageIndex apply to customers faults only",
    );
  }
  if ((fault.onPage !== undefined || fault.expireTokens) && endpoint === "token") {
    throw new RangeError("onPage and expireTokens do not apply to token faults");
  }
  if (fault.customerId !== undefined && endpoint !== "jobs") {
    throw new RangeError("customerId applies to jobs faults only");
  }
  if (fault.status === undefined) {
    const spoils = fault.corrupt !== undefined || fault.trickleMs !== undefined || pagingLie;
    if (!fault.reset && fault.delayMs === undefined && !spoils && !fault.expireTokens) {
      throw new RangeError(
        "a fault needs a status, reset, delayMs, corrupt or expireTokens (or trickleMs, totalCount, ignorePageIndex, reportPageIndex)",
      );
    }
  } else {
    checkedInteger("fault status", fault.status, 100, 599);
  }
  if (fault.corrupt !== undefined) {
    if (!PAGE_CORRUPTIONS.includes(fault.corrupt))
      throw new RangeError(`unknown corruption ${fault.corrupt}`);
    if (fault.status !== undefined || fault.reset)
      throw new RangeError("corrupt spoils the real answer: no status or reset with it");
  }
  if ((pagingLie || fault.trickleMs !== undefined) && fault.reset) {
    throw new RangeError("a reset sends no answer to trickle or to lie in");
  }
  if (pagingLie && fault.status !== undefined) {
    throw new RangeError("totalCount, ignorePageIndex and reportPageIndex spoil the real page");
  }
  if (fault.delayMs !== undefined) checkedInteger("fault delayMs", fault.delayMs, 0);
  if (fault.trickleMs !== undefined) checkedInteger("fault trickleMs", fault.trickleMs, 1);
  if (fault.totalCount !== undefined) checkedInteger("fault totalCount", fault.totalCount, 0);
  if (fault.reportPageIndex !== undefined)
    checkedInteger("fault reportPageIndex", fault.reportPageIndex, 0);
  if (fault.onPage !== undefined) checkedInteger("fault onPage", fault.onPage, 1);
  if (fault.record !== undefined) checkedInteger("fault record", fault.record, 0);
  return checkedInteger("fault times", fault.times ?? 1, 1);
}

/** A short name of what a fault does, for the request log. */
export function describeFault(fault: Fault): string {
  const parts: string[] = [];
  if (fault.delayMs !== undefined) parts.push(`delay ${fault.delayMs} ms`);
  if (fault.expireTokens) parts.push("expire tokens");
  if (fault.reset) parts.push("reset");
  else if (fault.status !== undefined) parts.push(`status ${fault.status}`);
  if (fault.corrupt !== undefined) parts.push(fault.corrupt);
  if (fault.totalCount !== undefined) parts.push(`totalCount ${fault.totalCount}`);
  if (fault.ignorePageIndex) parts.push("ignore pageIndex");
  if (fault.reportPageIndex !== undefined) parts.push(`reports page ${fault.reportPageIndex}`);
  if (fault.trickleMs !== undefined) parts.push(`trickle 1 byte/${fault.trickleMs} ms`);
  return parts.join(", ");
}

/** The fault's own answer, when it has a status. */
export function statusReply(fault: Fault & { status: number }): Reply {
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

export interface Page {
  data: unknown[];
  metadata: { pageIndex: number; pageSize: number; totalCount: number };
}

/**
 * The page's body spoiled as `corruption` says. `listed` is every record the request could
 * page through, `offset` where this page starts in it: a duplicate comes from the next page.
 */
export function corruptPage(
  corruption: PageCorruption,
  page: Page,
  listed: readonly unknown[],
  offset: number,
  record = 0,
): string {
  const body = JSON.stringify(page);
  if (corruption === "truncated-json") return body.slice(0, Math.floor(body.length / 2));
  if (corruption === "wrong-shape")
    return JSON.stringify({ items: page.data, metadata: page.metadata });
  const data = [...page.data];
  const position = data.length === 0 ? -1 : record % data.length;
  const target = data[position];
  if (!isObject(target)) return body;
  data[position] = spoilRecord(corruption, target, listed[(offset + data.length) % listed.length]);
  return JSON.stringify({ ...page, data });
}

function spoilRecord(
  corruption: Exclude<PageCorruption, "truncated-json" | "wrong-shape">,
  record: Record<string, unknown>,
  nextPageFirst: unknown,
): unknown {
  switch (corruption) {
    case "missing-id": {
      const { id: _id, ...rest } = record;
      return rest;
    }
    case "wrong-type":
      return { ...record, jobStatus: String(record.jobStatus) };
    case "unknown-code":
      return { ...record, jobStatus: UNKNOWN_JOB_STATUS };
    case "duplicate":
      return structuredClone(nextPageFirst);
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
