// A record nested too deep to store (JSON.stringify overflows its stack past about 4,450
// levels) is rejected on its own, counted and named like any other unstorable record, and
// the run goes on; before, it failed the run with "Maximum call stack size exceeded" and
// stored none of the other customers. Integers beyond 2^53 in unknown fields are stored
// exactly, not rounded to a double.
import { describe, expect, it } from "vitest";
import { MAX_NESTING } from "../src/sync/records.ts";
import { openHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { succeeded } from "./support/runs.ts";

const [first, second, third] = sampleCustomers(3, 5);
if (!first || !second || !third) throw new Error("sample too small");

/** A page written by hand: the deep value cannot go through JSON.stringify. */
function page(records: string[]): string {
  const metadata = { pageIndex: 1, pageSize: 10, totalCount: records.length };
  return `{"data":[${records.join(",")}],"metadata":${JSON.stringify(metadata)}}`;
}

function nested(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
}

/** A record's JSON with one more field, given as JSON text. */
function withField(record: object, name: string, json: string): string {
  return `${JSON.stringify(record).slice(0, -1)},${JSON.stringify(name)}:${json}}`;
}

describe("records too deep to store, and integers beyond 2^53", () => {
  it("rejects the deep record alone; the others are stored, big integers exactly", async () => {
    const h = await openHarness({ customers: [first, second, third] });
    h.simulator.injectFault({
      status: 200,
      onPage: 1,
      body: page([
        withField(first, "deep", nested(10_000)),
        withField(second, "big", '{"count":123456789012345678901,"list":[-9007199254740993]}'),
        // As deep as may be stored: kept.
        withField(third, "deepest", nested(MAX_NESTING - 2)),
      ]),
    });
    const run = succeeded(await h.sync());
    expect(run).toMatchObject({ complete: false, rejectedRecords: 1 });
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        msg: "rejected a customer record",
        pageIndex: 1,
        position: 0,
        id: first.id,
        reason: `(record): nested more than ${MAX_NESTING} levels deep, more than can be stored`,
      }),
    );
    const rows = await h.db.query<{ id: string; big: string; deepest: number }>(
      `SELECT id, source_record->>'big' AS big, jsonb_typeof(source_record->'deepest') AS deepest
       FROM customers ORDER BY id`,
    );
    expect(rows.map((row) => row.id).sort()).toEqual([second.id, third.id].sort());
    expect(rows.find((row) => row.id === second.id)?.big).toBe(
      '{"list": [-9007199254740993], "count": 123456789012345678901}',
    );
    // The documented numbers are still numbers, checked by their schemas.
    const [codes] = await h.db.query<{ job_status: number }>(
      "SELECT job_status FROM customers WHERE id = $1",
      [second.id],
    );
    expect(codes?.job_status).toBe(second.jobStatus);
    await expectInvariants(h.db);
  });
});
