// Every history row names its entity, and every tenant, subscription and backup job its
// customer. Triggers keep that guarantee, once per statement, where foreign keys did row by
// row (migration 20261206110000_entity_references_by_statement): every way in, every way out.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { blocked, session, type TestDatabase } from "./support/database.ts";
import { createHarness, type Harness } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { syncOk } from "./support/runs.ts";

interface Reference {
  child: string;
  columns: readonly string[];
  parent: string;
  /** The parent's key, in the order of `columns`. */
  key: readonly string[];
}

const REFERENCES: readonly Reference[] = [
  { child: "tenants", columns: ["customer_id"], parent: "customers", key: ["id"] },
  { child: "subscriptions", columns: ["customer_id"], parent: "customers", key: ["id"] },
  { child: "backup_jobs", columns: ["customer_id"], parent: "customers", key: ["id"] },
  { child: "customer_status_history", columns: ["customer_id"], parent: "customers", key: ["id"] },
  { child: "customer_history", columns: ["customer_id"], parent: "customers", key: ["id"] },
  {
    child: "tenant_history",
    columns: ["customer_id", "tenant_id"],
    parent: "tenants",
    key: ["customer_id", "id"],
  },
  {
    child: "subscription_history",
    columns: ["customer_id", "service", "source", "subscription_name"],
    parent: "subscriptions",
    key: ["customer_id", "service", "source", "subscription_name"],
  },
  {
    child: "backup_job_status_history",
    columns: ["customer_id", "job_id"],
    parent: "backup_jobs",
    key: ["customer_id", "job_id"],
  },
];

const TABLES = [...new Set(REFERENCES.flatMap((r) => [r.parent, r.child]))];
const HISTORIES = new Set(REFERENCES.map((r) => r.child).filter((t) => t.endsWith("_history")));

/** A key value no test creates as a parent. */
const MISSING = "no such parent";
/** The last key column of the parents the tests create. */
const FRESH = "fresh parent";

/** SQLSTATE foreign_key_violation, as the foreign keys raised. */
const FOREIGN_KEY_VIOLATION = "23503";

type Row = Record<string, string>;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("the statement succeeded"),
    (error: unknown) => error,
  );
}

const last = <T>(list: readonly T[]): T => {
  const value = list[list.length - 1];
  if (value === undefined) throw new Error("empty list");
  return value;
};

/**
 * INSERT … SELECT of copies of the table's first row, each with one of the objects of $1 (a
 * JSON array) applied; a history row gets its own id and is a closed period. Returns ctid.
 */
function copiesSql(table: string): string {
  const own = HISTORIES.has(table)
    ? `|| jsonb_build_object('id', nextval(pg_get_serial_sequence('${table}', 'id')),
                            'valid_to', h.valid_from, 'closed_by_run_id', h.opened_by_run_id)`
    : "";
  return `INSERT INTO ${table}
     SELECT (jsonb_populate_record(NULL::${table}, to_jsonb(h) ${own} || o.value)).*
     FROM (SELECT * FROM ${table} ORDER BY 1, 2 LIMIT 1) h
     CROSS JOIN jsonb_array_elements($1::jsonb) AS o(value)
     RETURNING ctid::text AS ctid`;
}

async function insertCopies(db: TestDatabase, table: string, overrides: Row[]): Promise<string[]> {
  const rows = await db.query<{ ctid: string }>(copiesSql(table), [JSON.stringify(overrides)]);
  return rows.map((row) => row.ctid);
}

async function rowCount(db: TestDatabase, table: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return row?.n ?? -1;
}

const keyText = (values: readonly string[]) => values.join(", ");

const missingMessage = (ref: Reference, values: readonly string[]) =>
  `${ref.child} (${ref.columns.join(", ")}) names (${keyText(values)}), which is not in ` +
  `${ref.parent} (${ref.key.join(", ")})`;

const namedMessage = (ref: Reference, values: readonly string[], what: string) =>
  `${ref.parent} (${ref.key.join(", ")}) = (${keyText(values)}) is named by ${ref.child} ` +
  `(${ref.columns.join(", ")}): a row that ${ref.child} names cannot be ${what}`;

/** A new parent row (a copy of the first, its last key column FRESH); returns its key. */
async function freshParent(db: TestDatabase, ref: Reference): Promise<string[]> {
  await insertCopies(db, ref.parent, [{ [last(ref.key)]: FRESH }]);
  const [row] = await db.query<Row>(
    `SELECT ${ref.key.join(", ")} FROM ${ref.parent} WHERE ${last(ref.key)} = $1`,
    [FRESH],
  );
  if (!row) throw new Error(`no fresh ${ref.parent}`);
  return ref.key.map((column) => row[column] ?? "");
}

/** The child's columns set to `values`. */
const naming = (ref: Reference, values: readonly string[]): Row =>
  Object.fromEntries(ref.columns.map((column, i) => [column, values[i] ?? ""]));

/** The key the first child row names, its last column MISSING. */
async function missingKey(db: TestDatabase, ref: Reference): Promise<string[]> {
  const [row] = await db.query<Row>(`SELECT ${ref.columns.join(", ")} FROM ${ref.child} LIMIT 1`);
  if (!row) throw new Error(`${ref.child} is empty`);
  return [...ref.columns.slice(0, -1).map((column) => row[column] ?? ""), MISSING];
}

async function dropFresh(db: TestDatabase, ref: Reference, key: readonly string[]): Promise<void> {
  const match = (columns: readonly string[]) =>
    columns.map((column, i) => `${column} = $${i + 1}`).join(" AND ");
  await db.query(`DELETE FROM ${ref.child} WHERE ${match(ref.columns)}`, [...key]);
  await db.query(`DELETE FROM ${ref.parent} WHERE ${match(ref.key)}`, [...key]);
}

/**
 * Deletes every row a test made (a key column FRESH or MISSING), children first: what a
 * failed test left would fail the next ones for another reason.
 */
async function sweep(db: TestDatabase): Promise<void> {
  for (const table of [...TABLES].reverse()) {
    const columns = new Set(
      REFERENCES.flatMap((r) => [
        ...(r.child === table ? r.columns : []),
        ...(r.parent === table ? r.key : []),
      ]),
    );
    const made = [...columns].map((column) => `${column} IN ($1, $2)`).join(" OR ");
    await db.query(`DELETE FROM ${table} WHERE ${made}`, [FRESH, MISSING]);
  }
}

describe("entity references", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({ resources: ["customers", "services", "jobs"] });
    await syncOk(h);
  });

  afterAll(async () => {
    await h.close();
  });

  beforeEach(async () => {
    await sweep(h.db);
  });

  it("a real sync of all three resources succeeds, and every row names its parent", async () => {
    await syncOk(h);
    for (const ref of REFERENCES) {
      const match = ref.columns.map((column, i) => `p.${ref.key[i] ?? ""} = c.${column}`);
      const [row] = await h.db.query<{ rows: number; orphans: number }>(
        `SELECT count(*)::int AS rows,
                count(*) FILTER (WHERE NOT EXISTS (SELECT FROM ${ref.parent} p
                                                   WHERE ${match.join(" AND ")}))::int AS orphans
         FROM ${ref.child} c`,
      );
      expect({ child: ref.child, ...row }).toMatchObject({ child: ref.child, orphans: 0 });
      expect(row?.rows, ref.child).toBeGreaterThan(0);
    }
    await expectInvariants(h.db);
  });

  describe.each(REFERENCES)("$child → $parent", (ref) => {
    it("refuses an INSERT naming no parent, naming the table, its columns and the key", async () => {
      const before = await rowCount(h.db, ref.child);
      const missing = await missingKey(h.db, ref);
      const error = await failure(insertCopies(h.db, ref.child, [naming(ref, missing)]));
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: missingMessage(ref, missing),
        table: ref.child,
      });
      expect(await rowCount(h.db, ref.child)).toBe(before);
    });

    it("refuses an UPDATE that makes a row name no parent", async () => {
      const key = await freshParent(h.db, ref);
      const [ctid] = await insertCopies(h.db, ref.child, [naming(ref, key)]);
      const missing = [...key.slice(0, -1), MISSING];
      const error = await failure(
        h.db.query(`UPDATE ${ref.child} SET ${last(ref.columns)} = $1 WHERE ctid = $2::tid`, [
          MISSING,
          ctid,
        ]),
      );
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: missingMessage(ref, missing),
      });
      await dropFresh(h.db, ref, key);
    });

    it("refuses a multi-row INSERT whole when one row names no parent", async () => {
      const key = await freshParent(h.db, ref);
      const before = await rowCount(h.db, ref.child);
      const missing = [...key.slice(0, -1), MISSING];
      const error = await failure(
        insertCopies(h.db, ref.child, [naming(ref, key), naming(ref, missing)]),
      );
      expect(error).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: missingMessage(ref, missing),
      });
      expect(await rowCount(h.db, ref.child)).toBe(before);
      await dropFresh(h.db, ref, key);
    });

    it("refuses to delete or re-key a parent it names; an unnamed parent goes", async () => {
      const key = await freshParent(h.db, ref);
      await insertCopies(h.db, ref.child, [naming(ref, key)]);
      const match = ref.key.map((column, i) => `${column} = $${i + 1}`).join(" AND ");

      expect(
        await failure(h.db.query(`DELETE FROM ${ref.parent} WHERE ${match}`, key)),
      ).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: namedMessage(ref, key, "deleted"),
        table: ref.child,
      });
      expect(
        await failure(
          h.db.query(
            `UPDATE ${ref.parent} SET ${last(ref.key)} = $${key.length + 1} WHERE ${match}`,
            [...key, MISSING],
          ),
        ),
      ).toMatchObject({
        code: FOREIGN_KEY_VIOLATION,
        message: namedMessage(ref, key, "given another key"),
      });
      expect(await h.db.query(`SELECT 1 FROM ${ref.parent} WHERE ${match}`, key)).toHaveLength(1);

      // Unnamed, the parent may change its key and go.
      await h.db.query(`DELETE FROM ${ref.child} WHERE ${last(ref.columns)} = $1`, [FRESH]);
      await h.db.query(
        `UPDATE ${ref.parent} SET ${last(ref.key)} = $${key.length + 1} WHERE ${match}`,
        [...key, MISSING],
      );
      const renamed = [...key.slice(0, -1), MISSING];
      await h.db.query(`DELETE FROM ${ref.parent} WHERE ${match}`, renamed);
      expect(await h.db.query(`SELECT 1 FROM ${ref.parent} WHERE ${match}`, renamed)).toEqual([]);
      await expectInvariants(h.db);
    });

    it("TRUNCATE of the parent fails while the child holds rows, and works with it", async () => {
      // The child's own children stay: they name the child, which stays too.
      const descendants = new Set([ref.child]);
      for (const r of REFERENCES) if (descendants.has(r.parent)) descendants.add(r.child);
      const others = TABLES.filter((table) => !descendants.has(table));
      const { client } = await session(h.db);
      try {
        await client.query("BEGIN");
        await client.query("SAVEPOINT alone");
        const error = await failure(client.query(`TRUNCATE ${others.join(", ")}`));
        expect(error).toMatchObject({ code: FOREIGN_KEY_VIOLATION, table: ref.child });
        expect((error as Error).message).toMatch(
          new RegExp(
            `^${ref.parent} \\(${ref.key.join(", ")}\\) = \\(.+\\) is named by ${ref.child} ` +
              `\\(${ref.columns.join(", ")}\\): a row that ${ref.child} names cannot be deleted \\(TRUNCATE\\)$`,
          ),
        );
        await client.query("ROLLBACK TO SAVEPOINT alone");
        await client.query(`TRUNCATE ${TABLES.join(", ")}`);
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${ref.parent}`,
        );
        expect(rows[0]?.n).toBe(0);
      } finally {
        await client.query("ROLLBACK");
        await client.end();
      }
    });

    it("an INSERT naming a parent holds it: a concurrent DELETE waits, then finds the new row", async () => {
      const key = await freshParent(h.db, ref);
      const match = ref.key.map((column, i) => `${column} = $${i + 1}`).join(" AND ");
      const writer = await session(h.db);
      const deleter = await session(h.db);
      try {
        await writer.client.query("BEGIN");
        await writer.client.query(copiesSql(ref.child), [JSON.stringify([naming(ref, key)])]);
        const deleting = failure(
          deleter.client.query(`DELETE FROM ${ref.parent} WHERE ${match}`, key),
        );
        await blocked(h.db, deleter.pid);
        await writer.client.query("COMMIT");
        expect(await deleting).toMatchObject({
          code: FOREIGN_KEY_VIOLATION,
          message: namedMessage(ref, key, "deleted"),
        });
      } finally {
        await writer.client.end();
        await deleter.client.end();
      }
      await dropFresh(h.db, ref, key);
    });

    it("a DELETE of a parent first: an INSERT naming it waits, then fails as it is gone", async () => {
      const key = await freshParent(h.db, ref);
      const match = ref.key.map((column, i) => `${column} = $${i + 1}`).join(" AND ");
      const writer = await session(h.db);
      const deleter = await session(h.db);
      try {
        await deleter.client.query("BEGIN");
        await deleter.client.query(`DELETE FROM ${ref.parent} WHERE ${match}`, key);
        const inserting = failure(
          writer.client.query(copiesSql(ref.child), [JSON.stringify([naming(ref, key)])]),
        );
        await blocked(h.db, writer.pid);
        await deleter.client.query("COMMIT");
        expect(await inserting).toMatchObject({
          code: FOREIGN_KEY_VIOLATION,
          message: missingMessage(ref, key),
        });
      } finally {
        await writer.client.end();
        await deleter.client.end();
      }
      expect(await rowCount(h.db, ref.child)).toBeGreaterThan(0);
      await expectInvariants(h.db);
    });
  });
});
