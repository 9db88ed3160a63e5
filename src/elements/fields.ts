// Reading the fields of a services product or a backup job, which the API sends as text
// ("N/A" when a field does not apply) into typed values. A value that does not parse into its
// type is null and named (announced by the sync, kept as sent in the record), never an
// error; text PostgreSQL cannot hold (a NUL, an unpaired surrogate) is a problem that
// rejects the record, since storing it altered would be storing something else.
import { z } from "zod";

/**
 * Longest key text accepted, in UTF-8 bytes, as for customer ids (src/sync/records.ts): a
 * btree index entry over 2704 bytes is refused, and a key holds the customer's id too.
 */
export const MAX_KEY_BYTES = 1000;

/** Why text cannot be stored as it is, or undefined. */
export function unstorable(text: string): string | undefined {
  if (text.includes("\u0000")) return "contains a NUL character";
  if (!text.isWellFormed()) return "contains an unpaired UTF-16 surrogate";
  return undefined;
}

/** A key's text: not empty, storable, at most MAX_KEY_BYTES. */
export const keyTextSchema = z
  .string()
  .min(1)
  .superRefine((text, context) => {
    const problem = unstorable(text);
    if (problem !== undefined) context.addIssue({ code: "custom", message: problem });
    else if (Buffer.byteLength(text, "utf8") > MAX_KEY_BYTES) {
      context.addIssue({ code: "custom", message: `longer than ${MAX_KEY_BYTES} bytes` });
    }
  });

/** What the API sends for a field that does not apply. */
export const NOT_APPLICABLE = "N/A";

/** A PostgreSQL `integer` column's range. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * ISO 8601 as the API sends it (`2025-09-26T00:00:00Z`), with optional seconds, fraction and
 * offset; a date alone is midnight UTC, and so is a time without an offset.
 */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * The fields of one record (`path` names it in messages, e.g. `products.2`): each read
 * notes what did not parse in `unparsable` (the API's field names) and what cannot be stored
 * in `problems`.
 */
export class FieldReader {
  readonly unparsable: string[] = [];
  readonly problems: string[] = [];
  readonly #record: Readonly<Record<string, unknown>>;
  readonly #path: string;

  constructor(record: Readonly<Record<string, unknown>>, path = "") {
    this.#record = record;
    this.#path = path;
  }

  /** Text, or null when absent, null or "N/A"; a number or a boolean as its JSON text. */
  text(name: string): string | null {
    const value = this.#present(name);
    if (value === undefined) return null;
    if (typeof value === "string") return this.#storable(name, value) ? value : null;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    // An integer parseJsonBody kept exactly: its literal is its text.
    if (JSON.isRawJSON(value)) return JSON.stringify(value);
    return this.#unparsed(name);
  }

  /** A part of a key: like text, but absent is '' (a key column cannot be NULL). */
  identity(name: string): string {
    const value = this.#present(name);
    if (value === undefined) return "";
    if (typeof value === "string") return this.#storable(name, value) ? value : "";
    this.problems.push(`${this.#named(name)}: expected text, received ${describe(value)}`);
    return "";
  }

  /** An integer that fits a PostgreSQL `integer`, from its digits (a sign allowed). */
  integer(name: string): number | null {
    return this.#number(name, /^[+-]?\d+$/, (n) => n >= INT32_MIN && n <= INT32_MAX);
  }

  /** A count: digits only, at most 2^53 - 1 (larger is not held exactly by a number). */
  count(name: string): number | null {
    return this.#number(name, /^\d+$/, (n) => n >= 0 && Number.isSafeInteger(n));
  }

  /** An instant, from ISO 8601 text. */
  date(name: string): Date | null {
    const value = this.#present(name);
    if (value === undefined) return null;
    const parsed = typeof value === "string" ? parseIsoDate(value.trim()) : undefined;
    return parsed ?? this.#unparsed(name);
  }

  #number(name: string, digits: RegExp, fits: (n: number) => boolean): number | null {
    const value = this.#present(name);
    if (value === undefined) return null;
    const text = typeof value === "string" ? value.trim() : undefined;
    const number =
      typeof value === "number" ? value : text && digits.test(text) ? Number(text) : Number.NaN;
    return Number.isInteger(number) && fits(number) ? number : this.#unparsed(name);
  }

  /** The value, or undefined when it is absent, null or "N/A". */
  #present(name: string): unknown {
    const value = this.#record[name];
    if (value === null || value === undefined) return undefined;
    if (typeof value === "string" && value.trim() === NOT_APPLICABLE) return undefined;
    return value;
  }

  #storable(name: string, text: string): boolean {
    const problem = unstorable(text);
    if (problem !== undefined) this.problems.push(`${this.#named(name)}: ${problem}`);
    return problem === undefined;
  }

  #unparsed(name: string): null {
    this.unparsable.push(name);
    return null;
  }

  #named(name: string): string {
    return this.#path === "" ? name : `${this.#path}.${name}`;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (JSON.isRawJSON(value)) return "number";
  return typeof value;
}

/** The instant ISO 8601 text names, or undefined when it names none (month 13, 30 February). */
export function parseIsoDate(text: string): Date | undefined {
  const match = ISO_DATE.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone = "Z"] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: that maps years 0 to 99 to 1900 to 1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return undefined;
  const offset = offsetMinutes(zone);
  if (offset === undefined) return undefined;
  const ms = Number(fraction.padEnd(3, "0").slice(0, 3));
  date.setUTCHours(hour, minute - offset, second, ms);
  return date;
}

/** `Z`, `+02`, `+0200` or `+02:00` in minutes east of UTC. */
function offsetMinutes(zone: string): number | undefined {
  if (zone.toUpperCase() === "Z") return 0;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || "0");
  if (hours > 23 || minutes > 59) return undefined;
  return (zone.startsWith("-") ? -1 : 1) * (hours * 60 + minutes);
}
