// What PostgreSQL can store, decided before anything is written: a record's keys and text
// (src/sync/records.ts) and a failed run's error text (src/sync/runs.ts).
import { describe, expect, it } from "vitest";
import { checkRecords, MAX_ID_BYTES } from "../../src/sync/records.ts";
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
