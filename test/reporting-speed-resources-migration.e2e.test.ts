// An existing database upgrades in place to the faster reporting.failing_customers and
// customer_status_at_run: on a history where failing customers changed status, management
// mode, left and came back, they answer as before, with the same column types and comments,
// and their readers keep their grants.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAs } from "./support/database.ts";
import { newCustomers, type Harness } from "./support/harness.ts";
import {
  harnessBeforeUpgrade,
  migrationsThrough,
  upgrade,
  READER_PASSWORD,
} from "./support/migrations.ts";

const UPGRADE = "20261206090000_reporting_speed_resources";
const READER = `es_rs_reader_${Math.random().toString(16).slice(2, 10)}`;
const VIEWS = ["failing_customers", "customer_status_at_run"];

let h: Harness;
// Every failing job status (2, 4, 5) and two that are not.
const customers = newCustomers(10, 67, "rs").map((c, i) => ({
  ...c,
  jobStatus: [2, 4, 5, 2, 4, 5, 2, 1, 3, 2][i] ?? 2,
}));

/** Every row of each view, in a fixed order. */
async function answers(db: Harness["db"]): Promise<Record<string, Record<string, unknown>[]>> {
  const result: Record<string, Record<string, unknown>[]> = {};
  for (const view of VIEWS) {
    result[view] = await db.query(
      `SELECT * FROM reporting.${view} v ORDER BY (SELECT array_agg(x ORDER BY x) FROM
         jsonb_each_text(to_jsonb(v)) AS e(k, x))`,
    );
  }
  return result;
}

/** Each column's type and comment. */
const columns = (db: Harness["db"]) =>
  db.query(
    `SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
            col_description(c.oid, a.attnum) AS comment
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
     WHERE c.relnamespace = 'reporting'::regnamespace AND c.relname = ANY($1::text[])
     ORDER BY 1, 2`,
    [VIEWS],
  );

beforeAll(async () => {
  h = await harnessBeforeUpgrade(UPGRADE, READER, {
    customers,
    resources: ["customers", "services", "jobs"],
  });
  await h.db.query(`GRANT SELECT ON reporting.${VIEWS.join(", reporting.")} TO ${READER}`);
  // Four runs. rs-0: Failed, then Pending, then Failed again (its status is as old as run 3).
  // rs-1: its management mode changes, its job status not (still as old as run 1). rs-2:
  // removed, then back. rs-3: Failed to Multiple Issues Found.
  await h.sync();
  const edited = structuredClone(customers);
  const [zero, one, two, three] = edited;
  if (!zero || !one || !two || !three) throw new Error("too few customers");
  zero.jobStatus = 1;
  one.managementMode = one.managementMode === 0 ? 1 : 0;
  await h.serve(edited.filter((c) => c.id !== two.id));
  await h.sync();
  zero.jobStatus = 2;
  await h.serve(edited);
  await h.sync();
  three.jobStatus = 4;
  await h.serve(edited);
  await h.sync();
});

afterAll(async () => {
  await h.close();
});

describe(`migration ${UPGRADE} on a database with history`, () => {
  it("answers as before, with the same column types and comments, and readers keep their grant", async () => {
    const before = await answers(h.db);
    const columnsBefore = await columns(h.db);
    expect(columnsBefore).toHaveLength(20 + 8);
    // The history gives failing customers different job_status_since, some with jobs.
    const failing = before.failing_customers ?? [];
    const since = new Set(failing.map((r) => (r.job_status_since as Date).toISOString()));
    expect(since.size).toBeGreaterThan(2);
    expect(failing.some((r) => r.job_id !== null)).toBe(true);
    const runs = await h.db.query<{ started_at: Date }>(
      "SELECT started_at FROM sync_runs ORDER BY id",
    );
    expect(failing.find((r) => r.customer_id === "rs-0")?.job_status_since).toEqual(
      runs[2]?.started_at,
    );
    expect(failing.find((r) => r.customer_id === "rs-1")?.job_status_since).toEqual(
      runs[0]?.started_at,
    );
    // Four runs of the snapshot: rs-2 is missing from run 2's alone.
    const snapshot = before.customer_status_at_run ?? [];
    expect(snapshot).toHaveLength(4 * customers.length - 1);
    expect(snapshot.filter((r) => r.customer_id === "rs-2").map((r) => r.run_id)).toEqual([
      1, 3, 4,
    ]);

    // This upgrade alone: later ones change other things (the histories' run references).
    const through = await migrationsThrough(UPGRADE);
    try {
      expect((await upgrade(h, { migrationsDir: through })).applied).toEqual([UPGRADE]);
    } finally {
      rmSync(through, { recursive: true, force: true });
    }

    expect(await answers(h.db)).toEqual(before);
    expect(await columns(h.db)).toEqual(columnsBefore);
    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    try {
      for (const view of VIEWS) {
        const { rows } = await reader.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM reporting.${view}`,
        );
        expect({ view, n: rows[0]?.n }).toEqual({ view, n: before[view]?.length });
      }
    } finally {
      await reader.end();
    }
  });
});
