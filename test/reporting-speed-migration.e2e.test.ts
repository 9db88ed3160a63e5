// An existing database upgrades in place to the faster reporting objects: the views it
// replaces answer as before, on the same data, with their column comments and grants.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAs } from "./support/database.ts";
import { newCustomers, type Harness } from "./support/harness.ts";
import {
  harnessBeforeUpgrade,
  upgrade,
  migrationsThrough,
  READER_PASSWORD,
} from "./support/migrations.ts";

const UPGRADE = "20261202090000_reporting_speed";
const READER = `es_speed_reader_${Math.random().toString(16).slice(2, 10)}`;
const VIEWS = ["job_status_changes", "attribute_changes", "customer_status_at_run"];

let h: Harness;
const customers = newCustomers(12, 31, "speed");

/** Every row of each replaced view, in a fixed order. */
async function answers(db: Harness["db"]): Promise<Record<string, unknown[]>> {
  const result: Record<string, unknown[]> = {};
  for (const view of VIEWS) {
    result[view] = await db.query(
      `SELECT * FROM reporting.${view} v ORDER BY (SELECT array_agg(x ORDER BY x) FROM
         jsonb_each_text(to_jsonb(v)) AS e(k, x))`,
    );
  }
  return result;
}

const comments = (db: Harness["db"]) =>
  db.query(
    `SELECT c.relname, a.attname, col_description(c.oid, a.attnum) AS comment
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
     WHERE c.relnamespace = 'reporting'::regnamespace AND c.relname = ANY($1::text[])
     ORDER BY 1, 2`,
    [VIEWS],
  );

beforeAll(async () => {
  h = await harnessBeforeUpgrade(UPGRADE, READER, { customers });
  await h.db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ${READER}`);
  // Three runs: a status change, a rename, a tenant renamed, a customer removed and back.
  await h.sync();
  const edited = structuredClone(customers);
  const [first, second] = edited;
  const third = edited.slice(2).find((c) => c.tenants.length > 0);
  if (!first || !second || !third?.tenants[0]) throw new Error("the sample has no tenant");
  first.jobStatus = first.jobStatus === 2 ? 1 : 2;
  second.organization = "Renamed";
  third.tenants[0].name = "renamed.example";
  await h.serve(edited.filter((c) => c.id !== third.id));
  await h.sync();
  await h.serve(edited);
  await h.sync();
});

afterAll(async () => {
  await h.close();
});

describe(`migration ${UPGRADE} on a database with history`, () => {
  it("answers as before, with the same comments, and the readers keep their grants", async () => {
    const answersBefore = await answers(h.db);
    const commentsBefore = await comments(h.db);
    expect(answersBefore.job_status_changes?.length).toBeGreaterThan(customers.length);
    expect(answersBefore.attribute_changes?.length).toBeGreaterThan(customers.length);

    // This upgrade alone: later ones may add columns (20261204160000_attribute_change_labels).
    const through = await migrationsThrough(UPGRADE);
    try {
      const applied = await upgrade(h, { migrationsDir: through });
      expect(applied.applied).toEqual([UPGRADE]);
    } finally {
      rmSync(through, { recursive: true, force: true });
    }

    expect(await answers(h.db)).toEqual(answersBefore);
    expect(await comments(h.db)).toEqual(commentsBefore);
    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    try {
      for (const view of VIEWS) {
        const { rows } = await reader.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM reporting.${view}`,
        );
        expect({ view, n: rows[0]?.n }).toEqual({ view, n: answersBefore[view]?.length });
      }
    } finally {
      await reader.end();
    }
  });
});
