// Subscriptions, backup jobs and per-resource outcomes (issue 23) on an existing database: the
// upgrade adds tables and views beside the data, which answers exactly as before, with its
// comments; a reader granted the views by hand reads the new views and none of the new
// tables; and the next run syncs on the upgraded schema.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAs } from "./support/database.ts";
import { snapshotData } from "./support/data.ts";
import { newCustomers, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import {
  harnessBeforeUpgrade,
  upgrade,
  READER_PASSWORD,
  SUBSCRIPTIONS_AND_JOBS,
  SUBSCRIPTIONS_AND_JOBS_TABLES,
} from "./support/migrations.ts";

const UPGRADE = SUBSCRIPTIONS_AND_JOBS;
const READER = `es_resources_reader_${Math.random().toString(16).slice(2, 10)}`;
const NEW_VIEWS = [
  "backup_job_status_changes",
  "backup_jobs",
  "failing_customers",
  "service_changes",
  "services",
  "sync_run_resources",
];
const NEW_TABLES = SUBSCRIPTIONS_AND_JOBS_TABLES;

let h: Harness;
const customers = newCustomers(10, 53, "resources");

/** Every row of every reporting view there is now, in a fixed order. */
async function answers(db: Harness["db"]): Promise<Record<string, unknown[]>> {
  const views = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
     WHERE c.relnamespace = 'reporting'::regnamespace AND c.relkind = 'v' ORDER BY 1`,
  );
  const result: Record<string, unknown[]> = {};
  for (const { name } of views) {
    result[name] = await db.query(
      `SELECT * FROM reporting.${name} v ORDER BY (SELECT array_agg(x ORDER BY x) FROM
         jsonb_each_text(to_jsonb(v)) AS e(k, x))`,
    );
  }
  return result;
}

const comments = (db: Harness["db"]) =>
  db.query(
    `SELECT c.relname, a.attname, col_description(c.oid, a.attnum) AS comment
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
     WHERE c.relnamespace = 'reporting'::regnamespace AND NOT (c.relname = ANY($1::text[]))
     ORDER BY 1, 2`,
    [NEW_VIEWS],
  );

beforeAll(async () => {
  h = await harnessBeforeUpgrade(UPGRADE, READER, { customers });
  // A reader granted the views by hand, not by bi-access (whose default privileges would
  // grant it the new views anyway).
  await h.db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ${READER}`);
  await h.sync();
  const edited = structuredClone(customers);
  const [first] = edited;
  if (!first) throw new Error("unreachable");
  first.jobStatus = first.jobStatus === 2 ? 1 : 2;
  await h.serve(edited.slice(0, -1));
  await h.sync();
});

afterAll(async () => {
  await h.close();
});

describe(`migration ${UPGRADE} on a database with history`, () => {
  it("adds tables and views beside the data, which answers as before", async () => {
    const dataBefore = await snapshotData(h.db);
    const answersBefore = await answers(h.db);
    const commentsBefore = await comments(h.db);
    expect(answersBefore.attribute_changes?.length).toBeGreaterThan(customers.length);

    // The upgrade first, then whatever later migrations exist.
    const { applied } = await upgrade(h);
    expect(applied[0]).toBe(UPGRADE);
    expect(applied.slice(1).every((name) => name > UPGRADE)).toBe(true);

    // The same data, and the new tables (absent before) empty.
    const { subscriptions, subscriptionHistory, backupJobs, backupJobHistory, ...dataAfter } =
      await snapshotData(h.db);
    expect(dataAfter).toEqual(dataBefore);
    expect([subscriptions, subscriptionHistory, backupJobs, backupJobHistory]).toEqual([
      [],
      [],
      [],
      [],
    ]);
    const answersAfter = await answers(h.db);
    expect(Object.keys(answersAfter).sort()).toEqual(
      [...Object.keys(answersBefore), ...NEW_VIEWS].sort(),
    );
    for (const view of Object.keys(answersBefore)) {
      expect({ view, rows: answersAfter[view] }).toEqual({ view, rows: answersBefore[view] });
    }
    expect(await comments(h.db)).toEqual(commentsBefore);
    // Nothing synced them yet; the failing customers are there, without jobs.
    for (const view of ["services", "service_changes", "backup_jobs", "sync_run_resources"]) {
      expect({ view, rows: answersAfter[view] }).toEqual({ view, rows: [] });
    }
    const failing = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM customers WHERE removed_at IS NULL AND job_status IN (2, 4, 5)`,
    );
    expect(answersAfter.failing_customers).toHaveLength(failing[0]?.n ?? -1);
    expect(
      answersAfter.failing_customers?.every((row) => (row as { job_id: unknown }).job_id === null),
    ).toBe(true);

    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    try {
      for (const view of NEW_VIEWS) {
        const { rows } = await reader.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM reporting.${view}`,
        );
        expect({ view, n: rows[0]?.n }).toEqual({ view, n: answersAfter[view]?.length });
      }
      for (const table of NEW_TABLES) {
        const code = await reader.query(`SELECT 1 FROM public.${table} LIMIT 1`).then(
          () => undefined,
          (error: unknown) => (error as { code?: string }).code,
        );
        expect({ table, code }).toEqual({ table, code: "42501" });
      }
    } finally {
      await reader.end();
    }

    // The next run syncs on the upgraded schema, its history whole, with the resources an
    // upgraded worker syncs by default: subscriptions and backup jobs too.
    await h.serve(customers);
    const next = await h.sync({ resources: ["customers", "services", "jobs"] });
    expect(next).toMatchObject({ status: "succeeded", customersRestored: 1 });
    await expectInvariants(h.db);
    const stored = await h.db.query<{ services: number; jobs: number; resources: number }>(
      `SELECT (SELECT count(*)::int FROM reporting.services) AS services,
              (SELECT count(*)::int FROM reporting.backup_jobs) AS jobs,
              (SELECT count(*)::int FROM reporting.sync_run_resources
               WHERE run_id = $1 AND outcome = 'complete') AS resources`,
      [next.runId],
    );
    expect(stored[0]?.services).toBeGreaterThan(0);
    expect(stored[0]?.jobs).toBeGreaterThan(0);
    expect(stored[0]?.resources).toBe(3);
  });
});
