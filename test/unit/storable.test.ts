// What PostgreSQL can store, decided before anything is written: a record's keys and text
// (src/sync/records.ts) and a failed run's error text (src/sync/runs.ts).
import { describe, expect, it } from "vitest";
import { parseJsonBody } from "../../src/elements/body.ts";
import { NUMBER_FIELDS } from "../../src/elements/payload.ts";
import {
  checkRecords,
  MAX_ID_BYTES,
  MAX_NESTING,
  MAX_RECORD_LENGTH,
} from "../../src/sync/records.ts";
import { storableText } from "../../src/sync/runs.ts";
import { customerRecord as record } from "../support/records.ts";

describe("a record's keys and text", () => {
  it("counts an id's length in UTF-8 bytes, not characters", () => {
    // "€" is three bytes: 333 of them and one more byte is exactly the limit.
    const atLimit = `${"€".repeat(333)}x`;
    const overLimit = `${"€".repeat(333)}xy`;
    expect(Buffer.byteLength(atLimit)).toBe(MAX_ID_BYTES);
    const { accepted, rejected } = checkRecords(4, [
      record({ id: atLimit }),
      record({ id: overLimit }),
      record({ tenants: [{ id: overLimit, name: null }] }),
    ]);
    expect(accepted.map((r) => r.id)).toEqual([atLimit]);
    expect(rejected).toEqual([
      {
        pageIndex: 4,
        position: 1,
        id: `${"€".repeat(100)}… (335 characters)`,
        reason: `id: 1001 bytes long, more than the ${MAX_ID_BYTES} a key may have`,
      },
      {
        pageIndex: 4,
        position: 2,
        id: "c-1",
        reason: `tenants.0.id: 1001 bytes long, more than the ${MAX_ID_BYTES} a key may have`,
      },
    ]);
  });

  it("takes paired surrogates as text and rejects an unpaired one in any field", () => {
    const { accepted, rejected } = checkRecords(1, [
      record({ organization: "smile \u{1F600}" }),
      record({ ownerEmail: "a\uD800@example.com" }),
      record({ countryOrRegion: "\uDFFF" }),
      record({ id: "c-\uD83D" }),
    ]);
    expect(accepted).toHaveLength(1);
    expect(rejected.map((r) => r.reason)).toEqual([
      "ownerEmail: contains an unpaired UTF-16 surrogate",
      "countryOrRegion: contains an unpaired UTF-16 surrogate",
      "id: contains an unpaired UTF-16 surrogate",
    ]);
  });
});

describe("a failed run's error text", () => {
  it("keeps what PostgreSQL can store and makes the rest storable, saying so", () => {
    expect(storableText("plain")).toBe("plain");
    expect(storableText("a\u0000b")).toBe("a\\u0000b");
    expect(storableText("x\uD800y")).toBe("x\uFFFDy");
    const long = storableText("z".repeat(5_000));
    expect(long).toBe(`${"z".repeat(4_000)}… (cut off)`);
  });
});

describe("a record's shape", () => {
  it("rejects a record over MAX_RECORD_LENGTH characters of JSON on its own", () => {
    const { accepted, rejected } = checkRecords(2, [
      record({ id: "big", notes: "x".repeat(MAX_RECORD_LENGTH) }),
      record({ id: "small", notes: "x".repeat(1000) }),
    ]);
    expect(accepted.map((r) => r.id)).toEqual(["small"]);
    expect(rejected).toEqual([
      {
        pageIndex: 2,
        position: 0,
        id: "big",
        reason: `(record): over ${MAX_RECORD_LENGTH} characters as JSON, more than a record may have`,
      },
    ]);
  });

  it("rejects nesting past MAX_NESTING levels, in arrays as in objects, without overflowing", () => {
    let deepArray: unknown = 1;
    for (let i = 0; i < 100_000; i += 1) deepArray = [deepArray];
    const { accepted, rejected } = checkRecords(1, [record({ id: "deep", extra: deepArray })]);
    expect(accepted).toEqual([]);
    expect(rejected[0]?.reason).toBe(
      `(record): nested more than ${MAX_NESTING} levels deep, more than can be stored`,
    );
  });
});

describe("integers beyond 2^53 in a page", () => {
  const parse = (text: string) =>
    JSON.stringify(parseJsonBody(text, "the test", 200, { except: NUMBER_FIELDS }));

  it("keeps their exact text, except in documented numeric fields", () => {
    expect(parse('{"a":12345678901234567890,"b":[-98765432109876543210]}')).toBe(
      '{"a":12345678901234567890,"b":[-98765432109876543210]}',
    );
    // jobStatus is checked as a number by its schema, which then rejects it.
    expect(parse('{"jobStatus":12345678901234567890}')).toBe('{"jobStatus":12345678901234567000}');
  });

  it("leaves strings, fractions, exponents and safe integers alone", () => {
    const text =
      '{"s":"12345678901234567890 \\"12345678901234567890\\"","f":0.12345678901234567,"e":1e1234567890123456,"i":1234567890123456}';
    expect(parseJsonBody(text, "the test", 200, { except: NUMBER_FIELDS })).toEqual(
      JSON.parse(text),
    );
  });

  it("still refuses what is not JSON, a leading zero included", () => {
    expect(() =>
      parseJsonBody("[01234567890123456789]", "the test", 200, { except: NUMBER_FIELDS }),
    ).toThrow("the test answered with a body that is not JSON.");
  });
});
