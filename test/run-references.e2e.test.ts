// The history tables' opened_by_run_id and closed_by_run_id must name runs in sync_runs.
// Triggers keep that guarantee, once per statement, where foreign keys did row by row
// (migration 20261206100000_run_references_by_statement): every way in, every way out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blocked, session, type TestDatabase } from "./support/database.ts";
import { createHarness, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { syncOk, type SucceededRun } from "./support/runs.ts";

const HISTORIES = [
  "customer_status_history",
  "customer_history",
  "tenant_history",
  "subscription_history",
  "backup_job_status_history",
] as const;
type History = (typeof HISTORIES)[number];

/** A run id no test creates. */
const NO_RUN = 424242;

/** SQLSTATE foreign_key_violation, as the foreign keys raised. */
const FOREIGN_KEY_VIOLATION = "23503";

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("the statement succeeded"),
    (error: unknown) => error,
  );
}

/**
 * INSERT … SELECT of copies of the table's first row, each a closed period with one of the
 * objects of $1 (a JSON array) applied.
 */
function copiesSql(table: History): string {
  return `INSERT INTO ${table}
     SELECT (jsonb_populate_record(NULL::${table},
               to_jsonb(h)
               || jsonb_build_object('id', nextval(pg_get_serial_sequence('${table}', 'id')),
                                     'valid_to', h.valid_from)
               || o.value)).*
     FROM (SELECT * FROM ${table} ORDER BY id LIMIT 1) h
     CROSS JOIN jsonb_array_elements($1::jsonb) AS o(value)`;
}

function insertCopies(
  db: TestDatabase,
  table: History,
  overrides: Record<string, unknown>[],
): Promise<unknown> {
  return db.query(copiesSql(table), [JSON.stringify(overrides)]);
}

async function rowCount(db: TestDatabase, table: History): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return row?.n ?? -1;
}

async function newRun(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO sync_runs (started_at, finished_at, status, complete)
     VALUES (now(), now(), 'succeeded', true) RETURNING id`,
  );
  if (!row) throw new Error("no run inserted");
  return row.id;
}

describe("run references of the history tables", () => {
  let h: Harness;
  let run: SucceededRun;

  beforeAll(async () => {
    h = await createHarness({ resources: ["customers", "services", "jobs"] });
    run = await syncOk(h);
  });

  afterAll(async () => {
    await h.close();
  });

  it("a real run succeeds and every history it writes names it", async () => {
    for (const table of HISTORIES) {
      const rows = await h.db.query<{ opened: number; orphans: number }>(
        `SELECT count(*) FILTER (WHERE opened_by_run_id = $1)::int AS opened,
                count(*) FILTER (WHERE NOT EXISTS (SELECT FROM sync_runs r WHERE r.id = h.opened_by_run_id))::int
                  AS orphans
         FROM ${table} h`,
        [run.runId],
      );
      expect({ table, ...rows[0] }).toMatchObject({ table, orphans: 0 });
      expect(rows[0]?.opened, table).toBeGreaterThan(0);
    }
    // A second run that changes nothing passes the checks too (its statements touch rows).
    await syncOk(h);
  });

  describe.each(HISTORIES)("%s", (table) => {
    it("refuses a row whose opened_by_run_id names no run, naming the table and the run", async () => {
      const before = await rowCount(h.db, table);
      const error = await failure(
        insertCopies(h.db, table, [{ opened_by_run_id: NO_RUN, closed_by_run_id: run.runId }]),
      );
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `${table}.opened_by_run_id names run ${NO_RUN}, which is not in sync_runs`,
        table,
        column: "opened_by_run_id",
      });
      expect(await rowCount(h.db, table)).toBe(before);
    });

    it("refuses a row whose closed_by_run_id names no run", async () => {
      const error = await failure(
        insertCopies(h.db, table, [{ opened_by_run_id: run.runId, closed_by_run_id: NO_RUN }]),
      );
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `${table}.closed_by_run_id names run ${NO_RUN}, which is not in sync_runs`,
      });
    });

    it("refuses an UPDATE that sets closed_by_run_id to no run", async () => {
      const error = await failure(
        h.db.query(
          `UPDATE ${table} SET closed_by_run_id = $1, valid_to = valid_from
           WHERE id = (SELECT min(id) FROM ${table} WHERE valid_to IS NULL)`,
          [NO_RUN],
        ),
      );
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `${table}.closed_by_run_id names run ${NO_RUN}, which is not in sync_runs`,
      });
      const [open] = await h.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} WHERE closed_by_run_id = $1`,
        [NO_RUN],
      );
      expect(open?.n).toBe(0);
    });

    it("refuses a multi-row INSERT whole when one row names no run", async () => {
      const before = await rowCount(h.db, table);
      const good = { opened_by_run_id: run.runId, closed_by_run_id: run.runId };
      const error = await failure(
        insertCopies(h.db, table, [good, { ...good, opened_by_run_id: NO_RUN + 1 }, good]),
      );
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `${table}.opened_by_run_id names run ${NO_RUN + 1}, which is not in sync_runs`,
      });
      expect(await rowCount(h.db, table)).toBe(before);
    });

    it("refuses to delete, renumber or truncate a run it names; an unreferenced run goes", async () => {
      const other = await newRun(h.db);
      await insertCopies(h.db, table, [{ opened_by_run_id: run.runId, closed_by_run_id: other }]);

      expect(
        await failure(h.db.query("DELETE FROM sync_runs WHERE id = $1", [other])),
      ).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `run ${other} is named by ${table}: a run that history names cannot be deleted`,
      });
      expect(
        await failure(h.db.query("UPDATE sync_runs SET id = $1 WHERE id = $2", [NO_RUN, other])),
      ).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `run ${other} is named by ${table}: a run that history names cannot be renumbered`,
      });
      expect(await h.db.query("SELECT 1 FROM sync_runs WHERE id = $1", [other])).toHaveLength(1);

      await h.db.query(`DELETE FROM ${table} WHERE closed_by_run_id = $1`, [other]);
      await h.db.query("DELETE FROM sync_runs WHERE id = $1", [other]);
      expect(await h.db.query("SELECT 1 FROM sync_runs WHERE id = $1", [other])).toHaveLength(0);
      await expectInvariants(h.db);
    });
  });

  it("renumbers a run no history names", async () => {
    const other = await newRun(h.db);
    await h.db.query("UPDATE sync_runs SET id = $1 WHERE id = $2", [NO_RUN, other]);
    await h.db.query("DELETE FROM sync_runs WHERE id = $1", [NO_RUN]);
    expect(
      await h.db.query("SELECT 1 FROM sync_runs WHERE id IN ($1, $2)", [other, NO_RUN]),
    ).toEqual([]);
  });

  it("TRUNCATE of sync_runs fails while history names a run, and works with the histories", async () => {
    const { client } = await session(h.db);
    try {
      await client.query("BEGIN");
      await client.query("SAVEPOINT alone");
      expect(await failure(client.query("TRUNCATE sync_runs, sync_run_resources"))).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: expect.stringMatching(
          /^run \d+ is named by customer_status_history: a run that history names cannot be deleted \(TRUNCATE\)$/,
        ) as unknown,
      });
      await client.query("ROLLBACK TO SAVEPOINT alone");
      await client.query(`TRUNCATE sync_runs, sync_run_resources, ${HISTORIES.join(", ")}`);
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM sync_runs",
      );
      expect(rows[0]?.n).toBe(0);
    } finally {
      await client.query("ROLLBACK");
      await client.end();
    }
  });

  it("an INSERT naming a run holds it: a concurrent DELETE waits, then finds the new rows", async () => {
    const other = await newRun(h.db);
    const writer = await session(h.db);
    const deleter = await session(h.db);
    try {
      await writer.client.query("BEGIN");
      await writer.client.query(copiesSql("customer_status_history"), [
        JSON.stringify([{ closed_by_run_id: other }]),
      ]);
      const deleting = failure(
        deleter.client.query("DELETE FROM sync_runs WHERE id = $1", [other]),
      );
      await blocked(h.db, deleter.pid);
      await writer.client.query("COMMIT");
      expect(await deleting).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `run ${other} is named by customer_status_history: a run that history names cannot be deleted`,
      });
    } finally {
      await writer.client.end();
      await deleter.client.end();
    }
    await h.db.query("DELETE FROM customer_status_history WHERE closed_by_run_id = $1", [other]);
    await h.db.query("DELETE FROM sync_runs WHERE id = $1", [other]);
  });

  it("a DELETE of a run first: an INSERT naming it waits, then fails as the run is gone", async () => {
    const other = await newRun(h.db);
    const writer = await session(h.db);
    const deleter = await session(h.db);
    try {
      await deleter.client.query("BEGIN");
      await deleter.client.query("DELETE FROM sync_runs WHERE id = $1", [other]);
      const inserting = failure(
        writer.client.query(copiesSql("customer_status_history"), [
          JSON.stringify([{ closed_by_run_id: other }]),
        ]),
      );
      await blocked(h.db, writer.pid);
      await deleter.client.query("COMMIT");
      expect(await inserting).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: `customer_status_history.closed_by_run_id names run ${other}, which is not in sync_runs`,
      });
    } finally {
      await writer.client.end();
      await deleter.client.end();
    }
    await expectInvariants(h.db);
  });
});
