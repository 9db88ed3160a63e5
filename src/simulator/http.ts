// What every simulated endpoint shares: reading the body and the query, the bearer token
// and its permission, the paging parameters, and a body that trickles out.
import type { IncomingMessage } from "node:http";
import type { FilterForm } from "../elements/id-filter.ts";
import { isObject } from "../values.ts";
import type { Fault } from "./faults.ts";
import type { Identity } from "./identity.ts";
import type { Permission } from "./permissions.ts";
import { jsonReply, type Reply } from "./reply.ts";

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * undefined when the request's bearer token is live and carries `permission`, which the
 * registration still holds; else the answer: 401 for a missing, unknown or expired token,
 * 403 for a token without the permission, or one issued before the permission was revoked.
 */
export function authorize(
  request: IncomingMessage,
  identity: Identity,
  permission: Permission,
  denied: ReadonlySet<Permission>,
): Reply | undefined {
  const token = /^Bearer +(\S+)\s*$/i.exec(request.headers.authorization ?? "")?.[1];
  const scopes = token === undefined ? undefined : identity.scopesOf(token);
  if (scopes === undefined) {
    const message =
      token === undefined ? "a bearer token is required" : "the token is unknown or expired";
    return jsonReply(
      401,
      { error: "invalid_token", message },
      { "www-authenticate": 'Bearer error="invalid_token"' },
    );
  }
  if (!scopes.has(permission) || denied.has(permission)) {
    return jsonReply(403, {
      error: "forbidden",
      message: `the app registration lacks the permission ${permission}`,
    });
  }
  return undefined;
}

/** The paging parameters, checked (undefined: not an integer); a string says what is wrong. */
export function pagingOf(
  pageIndex: number | undefined,
  pageSize: number | undefined,
  maxPageSize: number,
): Paging | string {
  if (pageIndex === undefined || pageIndex < 1) return "pageIndex must be an integer of at least 1";
  if (pageSize === undefined || pageSize < 1 || pageSize > maxPageSize)
    return `pageSize must be an integer from 1 to ${maxPageSize}`;
  return { pageIndex, pageSize };
}

export interface Paging {
  pageIndex: number;
  pageSize: number;
}

/** The documented envelope: one page of `items` and the paging metadata. */
export function pageReply(
  { pageIndex, pageSize }: Paging,
  totalCount: number,
  slice: (start: number, end: number) => unknown[],
): Reply {
  const start = (pageIndex - 1) * pageSize;
  return jsonReply(200, {
    data: slice(start, start + pageSize),
    metadata: { pageIndex, pageSize, totalCount },
  });
}

export function badRequest(message: string): Reply {
  return jsonReply(400, { error: "bad_request", message });
}

/** The body as a JSON object ({} when empty), or a message saying why it is not one. */
export function jsonObjectBody(body: string): Record<string, unknown> | string {
  if (body.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "the body is not valid JSON";
  }
  return isObject(value) ? value : "the body must be a JSON object";
}

/** `reply` sent slowly when `fault` says to trickle it. */
export function trickled(reply: Reply, fault: Fault | undefined): Reply {
  return fault?.trickleMs === undefined ? reply : { ...reply, trickleMs: fault.trickleMs };
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES. */
export async function readBody(request: IncomingMessage): Promise<string | undefined> {
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
export function integerParameter(raw: string | null, fallback: number): number | undefined {
  if (raw === null) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

export interface Filter {
  /** The ids the version's own field asks for; undefined: no filter. */
  ids: readonly string[] | undefined;
  /** Both fields as the body carried them (when well-formed), for the request log. */
  sent: { customerId?: string; customerIds?: string[] };
}

/**
 * The customers request body's filter, in the field `honoured` (the version's), or a
 * message saying what is wrong with the body. The other field is ignored, whatever it holds,
 * as a server ignores a property its model does not have. An empty `customerIds` filters
 * nothing: the list is optional, and an empty one asks for no particular customer.
 */
export function parseFilter(body: string, honoured: FilterForm): Filter | string {
  const value = jsonObjectBody(body);
  if (typeof value === "string") return value;
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

export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
