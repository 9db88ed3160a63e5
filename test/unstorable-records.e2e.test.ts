// A record PostgreSQL cannot store as a key, or as text without altering it, is rejected on
// its own like any other bad record: counted, logged with its page and position, and the
// run goes on (incomplete), every night, instead of failing whole. Driven through the real
// CLI against the simulator serving such records.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ID_BYTES } from "../src/sync/records.ts";
import { runCli, parseLogLines } from "./support/cli.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

/** `bytes` of ASCII that does not compress: PostgreSQL must index it as it is. */
function incompressible(bytes: number): string {
  return randomBytes(bytes).toString("base64").slice(0, bytes);
}

const PAGE_SIZE = 3;
const base = sampleCustomers(12, 7);
const at = (i: number) => base[i] ?? base[0];

/** What PostgreSQL can store: kept exactly. */
const longestId = incompressible(MAX_ID_BYTES);
const longestTenantId = incompressible(MAX_ID_BYTES);
const keptLongest = {
  ...at(1),
  id: longestId,
  tenants: [{ id: longestTenantId, name: "longest tenant id" }],
};
// A paired surrogate (an emoji) is ordinary text.
const keptEmoji = { ...at(7), organization: "Contoso \u{1F600} Ltd" };

/** What it cannot, each with the reason logged and where it sits. */
const rejected = [
  {
    index: 0,
    record: { ...at(0), id: "c".repeat(10_000) },
    reason: `id: 10000 bytes long, more than the ${MAX_ID_BYTES} a key may have`,
  },
  {
    index: 2,
    record: { ...at(2), id: incompressible(MAX_ID_BYTES + 1) },
    reason: `id: ${MAX_ID_BYTES + 1} bytes long, more than the ${MAX_ID_BYTES} a key may have`,
  },
  {
    // Both would become "tenant-\uFFFD" and collide on the staging key.
    index: 3,
    record: {
      ...at(3),
      tenants: [
        { id: "tenant-\uD800", name: "a" },
        { id: "tenant-\uDBFF", name: "b" },
      ],
    },
    reason:
      "tenants.0.id: contains an unpaired UTF-16 surrogate; tenants.1.id: contains an unpaired UTF-16 surrogate",
  },
  {
    index: 4,
    record: { ...at(4), organization: "Contoso \uDC00 Ltd" },
    reason: "organization: contains an unpaired UTF-16 surrogate",
  },
  {
    index: 5,
    record: { ...at(5), tenants: [{ id: "t-1", name: "cut emoji \uD83D" }] },
    reason: "tenants.0.name: contains an unpaired UTF-16 surrogate",
  },
  {
    index: 6,
    record: { ...at(6), tenants: [{ id: incompressible(MAX_ID_BYTES + 1), name: "x" }] },
    reason: `tenants.0.id: ${MAX_ID_BYTES + 1} bytes long, more than the ${MAX_ID_BYTES} a key may have`,
  },
];

const served: unknown[] = base.map((customer, i) => {
  if (i === 1) return keptLongest;
  if (i === 7) return keptEmoji;
  return rejected.find((r) => r.index === i)?.record ?? customer;
});

let rig: CliRig;
beforeAll(async () => {
  rig = await createCliRig({ customers: served, env: { ELEMENTS_PAGE_SIZE: String(PAGE_SIZE) } });
});
afterAll(() => rig.close());

describe("a record PostgreSQL cannot store", () => {
  it("is rejected on its own, logged with page and position, and the run goes on, every night", async () => {
    for (const night of [1, 2]) {
      const result = await runCli(["sync"], rig.env());
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(
          `^run ${night} succeeded .*: 6 customers \\(incomplete: 6 record\\(s\\) rejected\\), \\d+ tenants, 6 rejected\\n` +
            " {2}customers: .*\\n {2}changed: .*\\n {2}tenants: .*\\n$",
        ),
      );
      const lines = parseLogLines(result.stderr).filter(
        (line) => line.msg === "rejected a customer record",
      );
      // Pages are fetched concurrently, so their lines arrive in any order: compare in page order.
      const inPageOrder = lines.toSorted(
        (a, b) =>
          Number(a.pageIndex) - Number(b.pageIndex) || Number(a.position) - Number(b.position),
      );
      // The id PostgreSQL cannot index shows in the log cut short, not 10,000 characters long.
      expect(inPageOrder[0]?.id).toBe(`${"c".repeat(100)}… (10000 characters)`);
      const logged = inPageOrder.map(({ pageIndex, position, reason }) => ({
        pageIndex,
        position,
        reason,
      }));
      expect(logged).toEqual(
        rejected.map(({ index, reason }) => ({
          pageIndex: Math.floor(index / PAGE_SIZE) + 1,
          position: index % PAGE_SIZE,
          reason,
        })),
      );
    }
    const runs = await rig.db.query(
      "SELECT status, complete, rejected_records, incomplete_reason FROM sync_runs ORDER BY id",
    );
    expect(runs).toEqual(
      [1, 2].map(() => ({
        status: "succeeded",
        complete: false,
        rejected_records: 6,
        incomplete_reason: "6 record(s) rejected",
      })),
    );
    await expectInvariants(rig.db);
  });

  it("leaves what can be stored stored exactly, and nothing altered", async () => {
    const ids = (await rig.db.query<{ id: string }>("SELECT id FROM customers ORDER BY id")).map(
      (row) => row.id,
    );
    const expected = served
      .filter((_record, i) => !rejected.some((r) => r.index === i))
      .map((record) => (record as { id: string }).id)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(ids).toEqual(expected);
    const [longest] = await rig.db.query(
      `SELECT c.id = $1 AS "idKept", t.id = $2 AS "tenantIdKept", octet_length(t.id) AS bytes
       FROM customers c JOIN tenants t ON t.customer_id = c.id WHERE c.id = $1`,
      [longestId, longestTenantId],
    );
    expect(longest).toEqual({ idKept: true, tenantIdKept: true, bytes: MAX_ID_BYTES });
    const [emoji] = await rig.db.query("SELECT organization FROM customers WHERE id = $1", [
      keptEmoji.id,
    ]);
    expect(emoji).toEqual({ organization: keptEmoji.organization });
    // The replacement character U+FFFD is what an unpaired surrogate would have become.
    const altered = await rig.db.query(
      `SELECT id FROM customers
       WHERE concat(id, organization, owner_email, country_or_region) LIKE '%' || chr(65533) || '%'
       UNION ALL
       SELECT id FROM tenants WHERE concat(id, name) LIKE '%' || chr(65533) || '%'`,
    );
    expect(altered).toEqual([]);
  });
});
