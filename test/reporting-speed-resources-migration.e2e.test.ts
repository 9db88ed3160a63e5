// An existing database upgrades in place to the faster reporting.failing_customers: on a
// history where failing customers changed status, management mode, left and came back, it
// answers as before, with the same column types and comments, and its readers keep their
// grants.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAs } from "./support/database.ts";
import { newCustomers, type Harness } from "./support/harness.ts";
import { harnessBeforeUpgrade, upgrade, READER_PASSWORD } from "./support/migrations.ts";

const UPGRADE = "20261206090000_reporting_speed_resources";
const READER = `es_rs_reader_${Math.random().toString(16).slice(2, 10)}`;
const VIEW = "failing_customers";

let h: Harness;
// Every failing job status (2, 4, 5) and two that are not.
const customers = newCustomers(10, 67, "rs").map((c, i) => ({
  ...c,
  jobStatus: [2, 4, 5, 2, 4, 5, 2, 1, 3, 2][i] ?? 2,
}));

const answers = (db: Harness["db"]) =>
  db.query(
    `SELECT * FROM reporting.${VIEW} v ORDER BY (SELECT array_agg(x ORDER BY x) FROM
       jsonb_each_text(to_jsonb(v)) AS e(k, x))`,
  );

/** Each column's type and comment. */
const columns = (db: Harness["db"]) =>
  db.query(
    `SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
            col_description(a.attrelid, a.attnum) AS comment
     FROM pg_attribute a
     WHERE a.attrelid = 'reporting.${VIEW}'::regclass AND a.attnum > 0 ORDER BY 1`,
  );

beforeAll(async () => {
  h = await harnessBeforeUpgrade(UPGRADE, READER, {
    customers,
    resources: ["customers", "services", "jobs"],
  });
  await h.db.query(`GRANT SELECT ON reporting.${VIEW} TO ${READER}`);
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
    // The history gives failing customers different job_status_since, some with jobs.
    const since = new Set(before.map((r) => (r.job_status_since as Date).toISOString()));
    expect(since.size).toBeGreaterThan(2);
    expect(before.some((r) => r.job_id !== null)).toBe(true);
    const runs = await h.db.query<{ started_at: Date }>(
      "SELECT started_at FROM sync_runs ORDER BY id",
    );
    expect(before.find((r) => r.customer_id === "rs-0")?.job_status_since).toEqual(
      runs[2]?.started_at,
    );
    expect(before.find((r) => r.customer_id === "rs-1")?.job_status_since).toEqual(
      runs[0]?.started_at,
    );

    const applied = await upgrade(h);
    expect(applied.applied).toEqual([UPGRADE]);

    expect(await answers(h.db)).toEqual(before);
    expect(await columns(h.db)).toEqual(columnsBefore);
    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    try {
      const { rows } = await reader.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM reporting.${VIEW}`,
      );
      expect(rows[0]?.n).toBe(before.length);
    } finally {
      await reader.end();
    }
  });
});
