// What a run names as new fields, and how source records are written for jsonb
// (src/sync/source-records.ts).
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { checkRecords } from "../../src/sync/records.ts";
import {
  MAX_NEW_FIELDS,
  NewFieldReporter,
  storableJsonArray,
  type SourcedRecord,
} from "../../src/sync/source-records.ts";
import { customerRecord as record } from "../support/records.ts";

function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { log: createLogger("debug", sink), lines };
}

/** Lets the logger's stream write what it was given. */
const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe("new fields", () => {
  it("accepts a record with unknown fields and keeps the object the API sent", () => {
    const sent = record({ region: "eu", tenants: [{ id: "t-1", name: null, seats: 3 }] });
    const { accepted, rejected } = checkRecords(1, [sent]);
    expect(rejected).toEqual([]);
    expect(accepted[0]?.source).toBe(sent);
    // The parsed record is the documented fields only, as before.
    expect(accepted[0]).not.toHaveProperty("region");
  });

  it("names customer and tenant fields apart, sorted, in one warning however often they come", async () => {
    const { log, lines } = capturedLog();
    const reporter = new NewFieldReporter();
    const page = (n: number) =>
      checkRecords(n, [
        record({ zeta: 1, tenants: [{ id: "t", name: null, region: "eu" }] }),
        record({ id: "c-2", alpha: { nested: true }, tenants: [] }),
      ]).accepted;
    reporter.check(page(1));
    reporter.check(page(2));
    expect(reporter.announce(log)).toEqual(["alpha", "tenants[].region", "zeta"]);
    expect(reporter.announce(log)).toEqual(["alpha", "tenants[].region", "zeta"]);
    await flushed();
    expect(lines).toEqual([
      expect.objectContaining({
        newFields: ["alpha", "tenants[].region", "zeta"],
        msg: "fields outside the documented set: alpha, tenants[].region, zeta; kept in source_record, not versioned",
      }),
    ]);
  });

  it("announces nothing and names none when every field is documented", async () => {
    const { log, lines } = capturedLog();
    const reporter = new NewFieldReporter();
    reporter.check(checkRecords(1, [record({})]).accepted);
    expect(reporter.announce(log)).toEqual([]);
    await flushed();
    expect(lines).toEqual([]);
  });

  it(`names at most ${MAX_NEW_FIELDS} fields a run, each of a bounded length`, () => {
    const keys = Object.fromEntries(
      Array.from({ length: MAX_NEW_FIELDS + 50 }, (_, i) => [`k${i}`, i]),
    );
    const reporter = new NewFieldReporter();
    reporter.check(checkRecords(1, [record({ ...keys, ["x".repeat(5000)]: 1 })]).accepted);
    const names = reporter.announce(capturedLog().log);
    expect(names).toHaveLength(MAX_NEW_FIELDS);
    expect(Math.max(...names.map((name) => name.length))).toBeLessThan(300);
  });

  it("names the envelope's fields `(envelope).…`, among the run's, not in the records' warning", async () => {
    const { log, lines } = capturedLog();
    const reporter = new NewFieldReporter();
    reporter.checkEnvelope(["apiVersion", "metadata.nextLink"]);
    reporter.check(checkRecords(1, [record({ apiVersion: "r" })]).accepted);
    reporter.checkEnvelope(["apiVersion", "nul\u0000"]);
    expect(reporter.announce(log)).toEqual([
      "(envelope).apiVersion",
      "(envelope).metadata.nextLink",
      "(envelope).nul\\u0000",
      "apiVersion",
    ]);
    await flushed();
    expect(lines).toEqual([expect.objectContaining({ newFields: ["apiVersion"] })]);
  });

  it(`counts the envelope's fields within the ${MAX_NEW_FIELDS} a run`, () => {
    const reporter = new NewFieldReporter();
    reporter.checkEnvelope(Array.from({ length: MAX_NEW_FIELDS - 1 }, (_, i) => `e${i}`));
    reporter.check(checkRecords(1, [record({ a: 1, b: 2 })]).accepted);
    reporter.checkEnvelope(["late"]);
    expect(reporter.announce(capturedLog().log)).toHaveLength(MAX_NEW_FIELDS);
  });
});

/** The records' source objects as the merge writes them to jsonb (src/sync/merge-batch.ts). */
const sourceRecordsJson = (accepted: readonly SourcedRecord[]) =>
  storableJsonArray(accepted.map((record) => record.source));

describe("source records as JSON", () => {
  it("is the records as sent, in order", () => {
    const sent = [record({ extra: [1, "two"] }), record({ id: "c-2" })];
    const { accepted } = checkRecords(1, sent);
    expect(JSON.parse(sourceRecordsJson(accepted))).toEqual(sent);
  });

  it("replaces what jsonb cannot hold, in values and keys alike", () => {
    const { accepted } = checkRecords(1, [
      record({ note: "a\u0000b", ["k\u0000"]: ["\uDC00"], nested: { deep: "\uD800x" } }),
    ]);
    expect(JSON.parse(sourceRecordsJson(accepted))).toEqual([
      record({ note: "a\\u0000b", ["k\\u0000"]: ["\uFFFD"], nested: { deep: "\uFFFDx" } }),
    ]);
  });

  it("leaves a string that only looks like an escape alone", () => {
    const { accepted } = checkRecords(1, [record({ path: "C:\\u0000\\new" })]);
    expect(JSON.parse(sourceRecordsJson(accepted))).toEqual([record({ path: "C:\\u0000\\new" })]);
  });
});
