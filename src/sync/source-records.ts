// Nothing the API sends is lost: each accepted record keeps the object the API sent (every
// field, its tenants list included) beside the documented columns, and the fields outside
// the documented set are named once per run. Such fields are kept current in
// customers.source_record, never versioned: one that changes on every call (a timestamp)
// would otherwise open a history period every night.
import { customerSchema, tenantSchema } from "../elements/payload.ts";
import type { Logger } from "../logger.ts";
import { isObject } from "../values.ts";

/** The documented fields, from the record schemas themselves: one list to keep up to date. */
const CUSTOMER_FIELDS: ReadonlySet<string> = new Set(Object.keys(customerSchema.shape));
const TENANT_FIELDS: ReadonlySet<string> = new Set(Object.keys(tenantSchema.shape));

/** How a tenant's field is named among a run's new fields: `tenants[].region`. */
export const TENANT_FIELD_PREFIX = "tenants[].";

/**
 * How a field of the page envelope is named among a run's new fields: `(envelope).apiVersion`,
 * `(envelope).metadata.nextLink` (a record's field of the same name stays apart).
 */
export const ENVELOPE_FIELD_PREFIX = "(envelope).";

/**
 * At most this many new field names are kept per run: a server that sent a key per record
 * (ids as keys) must not grow the run's row and log line without bound.
 */
export const MAX_NEW_FIELDS = 100;

/** Longest new field name kept; the rest of a longer one is cut off, and says so. */
const MAX_FIELD_NAME_LENGTH = 200;

/** A record that passed validation, with the object the API sent for it. */
export interface SourcedRecord {
  readonly id: string;
  /** The record as parsed from the response body: every field, unknown ones included. */
  readonly source: Readonly<Record<string, unknown>>;
}

/**
 * Collects the fields outside the documented set that a run's records and page envelopes
 * carry, and announces the records' once: one warning naming them all, sorted (the client
 * warns of the envelope's). Unknown fields are never an error.
 */
export class NewFieldReporter {
  /** Records' fields, then envelopes': at most MAX_NEW_FIELDS in all. */
  readonly #names = new Set<string>();
  readonly #envelopeNames = new Set<string>();
  #announced = false;

  /** Notes a page envelope's unknown fields, as the client names them (`metadata.<name>`). */
  checkEnvelope(fields: readonly string[]): void {
    for (const field of fields) {
      if (this.#count() >= MAX_NEW_FIELDS) return;
      this.#envelopeNames.add(storableName(ENVELOPE_FIELD_PREFIX + field));
    }
  }

  /** Notes the unknown fields of `records` (their raw objects: the schema strips them). */
  check(records: readonly SourcedRecord[]): void {
    for (const { source } of records) {
      this.#checkObject(source, CUSTOMER_FIELDS, "");
      const tenants = source.tenants;
      if (!Array.isArray(tenants)) continue;
      for (const tenant of tenants) {
        if (isObject(tenant)) this.#checkObject(tenant, TENANT_FIELDS, TENANT_FIELD_PREFIX);
      }
    }
  }

  /**
   * The run's new fields, sorted; logs the one warning naming the records' the first time it
   * is called with any (later calls log nothing).
   */
  announce(log: Logger): string[] {
    const inRecords = [...this.#names].sort();
    if (inRecords.length > 0 && !this.#announced) {
      this.#announced = true;
      log.warn(
        { newFields: inRecords },
        `fields outside the documented set: ${inRecords.join(", ")}; kept in source_record, not versioned`,
      );
    }
    return [...inRecords, ...this.#envelopeNames].sort();
  }

  #count(): number {
    return this.#names.size + this.#envelopeNames.size;
  }

  #checkObject(
    object: Readonly<Record<string, unknown>>,
    known: ReadonlySet<string>,
    prefix: string,
  ) {
    for (const key in object) {
      if (known.has(key) || this.#count() >= MAX_NEW_FIELDS) continue;
      this.#names.add(storableName(prefix + key));
    }
  }
}

/**
 * A field name as a text array element and a log line can hold it: no NUL, no unpaired
 * surrogate, of a bounded length.
 */
function storableName(name: string): string {
  const clean = name.replaceAll("\u0000", "\\u0000").toWellFormed();
  return clean.length <= MAX_FIELD_NAME_LENGTH
    ? clean
    : `${clean.slice(0, MAX_FIELD_NAME_LENGTH)}… (cut off)`;
}

/**
 * `values` (records' source objects) as one JSON array, for one jsonb parameter: one
 * JSON.stringify per batch, which PostgreSQL splits with jsonb_array_elements.
 *
 * jsonb cannot hold a NUL character or an unpaired UTF-16 surrogate, and the documented
 * fields never carry one (such a record is rejected), but an unknown field may: then the
 * batch is written again with those characters replaced (NUL by the six characters
 * `\u0000`, an unpaired surrogate by U+FFFD), so that no unknown field fails a run.
 */
export function storableJsonArray(values: readonly unknown[]): string {
  const json = JSON.stringify(values);
  // JSON.stringify writes both as \u escapes; a string holding a backslash before "u0000"
  // matches too, and only costs the slower path.
  return UNSTORABLE_ESCAPE.test(json) ? JSON.stringify(values.map(storableJson)) : json;
}

const UNSTORABLE_ESCAPE = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i;

/** A copy of a parsed JSON value whose strings and keys jsonb can hold. */
function storableJson(value: unknown): unknown {
  if (typeof value === "string") return storableString(value);
  // An integer kept exactly (parseJsonBody): written back as it came.
  if (JSON.isRawJSON(value)) return value;
  if (Array.isArray(value)) return value.map(storableJson);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [storableString(key), storableJson(inner)]),
    );
  }
  return value;
}

function storableString(text: string): string {
  return text.replaceAll("\u0000", "\\u0000").toWellFormed();
}
