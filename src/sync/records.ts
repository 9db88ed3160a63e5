// Record-level checks on a fetched page: a record that fails validation is rejected
// (counted and logged with its page and position) while the rest of the run goes on;
// a code outside the documented lists is kept and reported once per run. An accepted
// record keeps the object the API sent, fields the schema does not know included.
import { codeLabel, isKnownCode, type CodeField } from "../elements/codes.ts";
import { customerSchema, describeIssues, type CustomerRecord } from "../elements/payload.ts";
import type { Logger } from "../logger.ts";
import { isObject } from "../values.ts";
import type { SourcedRecord } from "./source-records.ts";

export interface RejectedRecord {
  pageIndex: number;
  /** 0-based position in the page's `data` array. */
  position: number;
  id: string | undefined;
  reason: string;
}

/** A record that passed, parsed, with the object the API sent (unknown fields and all). */
export type AcceptedRecord = CustomerRecord & SourcedRecord;

/** Last record wins for a customer seen twice (offset paging can repeat one across pages). */
export function dedupeById<T extends { id: string }>(records: readonly T[]): T[] {
  return [...new Map(records.map((record) => [record.id, record])).values()];
}

export interface CheckedPage {
  accepted: AcceptedRecord[];
  rejected: RejectedRecord[];
}

/**
 * Longest customer or tenant id accepted, in UTF-8 bytes. Ids are keys, and PostgreSQL
 * refuses a btree index entry over 2704 bytes (8 kB pages) when it does not compress: a
 * tenant's key holds two ids (its customer's and its own), so 2 × 1000 bytes stay inside
 * it whatever the ids hold. Elements ids are GUIDs (36 bytes).
 */
export const MAX_ID_BYTES = 1000;

/** How much of a rejected record's id a log line shows. */
const LOGGED_ID_LENGTH = 100;

export function checkRecords(pageIndex: number, records: readonly unknown[]): CheckedPage {
  const accepted: AcceptedRecord[] = [];
  const rejected: RejectedRecord[] = [];
  records.forEach((record, position) => {
    const result = customerSchema.safeParse(record);
    const reason = result.success
      ? (unstorableShape(record) ?? unstorableParts(result.data))
      : describeIssues(result.error);
    // The schema takes objects only: isObject holds for every record that passed it.
    if (result.success && reason === undefined && isObject(record)) {
      accepted.push({ ...result.data, source: record });
    } else {
      rejected.push({ pageIndex, position, id: idOf(record), reason: reason ?? "" });
    }
  });
  return { accepted, rejected };
}

/**
 * What of a well-formed record PostgreSQL cannot store as it is, or undefined. Such a
 * record is rejected: one that failed its page's insert would fail the run, every night,
 * and text is never stored altered.
 */
function unstorableParts(record: CustomerRecord): string | undefined {
  const problems: string[] = [];
  const checkId = (path: string, id: string) => {
    const bytes = Buffer.byteLength(id, "utf8");
    if (bytes > MAX_ID_BYTES) {
      problems.push(`${path}: ${bytes} bytes long, more than the ${MAX_ID_BYTES} a key may have`);
    }
  };
  const checkText = (path: string, text: string | null) => {
    // The driver would write U+FFFD for it: two ids differing only there would collide.
    if (text !== null && !text.isWellFormed()) {
      problems.push(`${path}: contains an unpaired UTF-16 surrogate`);
    }
  };
  checkId("id", record.id);
  checkText("id", record.id);
  checkText("organization", record.organization);
  checkText("ownerEmail", record.ownerEmail);
  checkText("countryOrRegion", record.countryOrRegion);
  record.tenants.forEach((tenant, index) => {
    checkId(`tenants.${index}.id`, tenant.id);
    checkText(`tenants.${index}.id`, tenant.id);
    checkText(`tenants.${index}.name`, tenant.name);
  });
  return problems.length > 0 ? problems.join("; ") : undefined;
}

/**
 * Deepest nesting a record may have. JSON.stringify overflows the stack past about 4,450
 * levels and PostgreSQL's jsonb input a little further; real records nest three.
 */
export const MAX_NESTING = 1000;

/** Longest record accepted, in characters of its JSON (about): real records are kilobytes. */
export const MAX_RECORD_LENGTH = 16 * 1024 * 1024;

/**
 * Why a record as the API sent it (unknown fields included) cannot be stored as one jsonb
 * value, or undefined. Walked without recursion, so no depth can overflow the walk itself.
 */
function unstorableShape(record: unknown): string | undefined {
  // Two stacks rather than one of {value, depth} objects: no allocation per value walked.
  const values: unknown[] = [record];
  const depths: number[] = [1];
  let length = 0;
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop() ?? 1;
    if (typeof value === "string") length += value.length + 2;
    else if (typeof value !== "object" || value === null || JSON.isRawJSON(value)) length += 8;
    else if (depth > MAX_NESTING) {
      return `(record): nested more than ${MAX_NESTING} levels deep, more than can be stored`;
    } else {
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        length += key.length + 4;
        values.push((value as Record<string, unknown>)[key]);
        depths.push(depth + 1);
      }
    }
    if (length > MAX_RECORD_LENGTH) {
      return `(record): over ${MAX_RECORD_LENGTH} characters as JSON, more than a record may have`;
    }
  }
  return undefined;
}

/** The record's id for the log line, cut short when it is long. */
function idOf(record: unknown): string | undefined {
  const id = isObject(record) ? record.id : undefined;
  if (typeof id !== "string" || id === "") return undefined;
  if (id.length <= LOGGED_ID_LENGTH) return id;
  return `${id.slice(0, LOGGED_ID_LENGTH)}… (${id.length} characters)`;
}

/** Warns once per run for each undocumented (field, code) pair. */
export class UnknownCodeReporter {
  readonly #reported = new Set<string>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  check(records: readonly CustomerRecord[]): void {
    for (const record of records) {
      this.#checkOne("jobStatus", record.jobStatus, record.id);
      this.#checkOne("managementMode", record.managementMode, record.id);
    }
  }

  #checkOne(field: CodeField, code: number, customerId: string): void {
    const key = `${field}:${code}`;
    if (isKnownCode(field, code) || this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#log.warn(
      { field, code, label: codeLabel(field, code), firstCustomerId: customerId },
      `undocumented ${field} code ${code}: kept and labelled unknown`,
    );
  }
}
