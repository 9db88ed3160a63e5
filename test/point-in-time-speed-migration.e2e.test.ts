// An existing database upgrades in place to the faster customers_at and tenants_at: at
// every instant of a history with changes, removals and returns they answer as before,
// and they keep their comments, options and EXECUTE grants.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAs } from "./support/database.ts";
import { newCustomers, type Harness } from "./support/harness.ts";
import { harnessBeforeUpgrade, upgrade, READER_PASSWORD } from "./support/migrations.ts";

const UPGRADE = "20261202100000_point_in_time_speed";
const READER = `es_pit_reader_${Math.random().toString(16).slice(2, 10)}`;
const FUNCTIONS = ["customers_at", "tenants_at"];

let h: Harness;
const customers = newCustomers(12, 37, "pit");
const late = newCustomers(1, 41, "pit-late");

// Before the first run, at each run's start, just before the next run, a second after it,
// and an hour after the last run.
const INSTANTS = `
  SELECT min(started_at) - interval '1 second' AS at FROM sync_runs
  UNION SELECT started_at FROM sync_runs
  UNION SELECT started_at - interval '1 microsecond' FROM sync_runs
  UNION SELECT started_at + interval '1 second' FROM sync_runs
  UNION SELECT max(started_at) + interval '1 hour' FROM sync_runs`;

/** Every row of both functions at every instant, in a fixed order. */
async function answers(db: Harness["db"]): Promise<Record<string, unknown[]>> {
  const result: Record<string, unknown[]> = {};
  for (const fn of FUNCTIONS) {
    result[fn] = await db.query(
      `SELECT i.at, f.* FROM (${INSTANTS}) i CROSS JOIN LATERAL reporting.${fn}(i.at) f
       ORDER BY i.at, (SELECT array_agg(x ORDER BY x) FROM jsonb_each_text(to_jsonb(f)) AS e(k, x))`,
    );
  }
  return result;
}

/** Comment, options, SECURITY DEFINER and grants of each function. */
const definitions = (db: Harness["db"]) =>
  db.query(
    `SELECT p.proname, obj_description(p.oid, 'pg_proc') AS comment, p.prosecdef,
            p.proconfig, p.proacl::text[] AS acl,
            has_function_privilege('public', p.oid, 'EXECUTE') AS public_executes
     FROM pg_proc p
     WHERE p.pronamespace = 'reporting'::regnamespace AND p.proname = ANY($1::text[])
     ORDER BY 1`,
    [FUNCTIONS],
  );

beforeAll(async () => {
  h = await harnessBeforeUpgrade(UPGRADE, READER, { customers });
  await h.db.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO ${READER}`);
  // Four runs: a status change, a rename, a tenant renamed, another removed, a customer
  // removed; that customer back with a new tenant; the tenant back and a customer first
  // seen late.
  await h.sync();
  const edited = structuredClone(customers);
  const [first, second, third, fourth] = edited.filter((c) => c.tenants.length > 1);
  if (!first || !second || !third || !fourth) throw new Error("too few customers with tenants");
  first.jobStatus = first.jobStatus === 2 ? 1 : 2;
  second.organization = "Renamed";
  second.tenants[0] = { ...second.tenants[0], id: second.tenants[0]?.id ?? "", name: "renamed" };
  const goneTenant = third.tenants.pop();
  await h.serve(edited.filter((c) => c.id !== fourth.id));
  await h.sync();
  fourth.tenants.push({ id: "pit-new-tenant", name: "new.example" });
  await h.serve(edited);
  await h.sync();
  if (goneTenant) third.tenants.push(goneTenant);
  await h.serve([...edited, ...late]);
  await h.sync();
});

afterAll(async () => {
  await h.close();
});

describe(`migration ${UPGRADE} on a database with history`, () => {
  it("answers as before at every instant, with the same comments, options and grants", async () => {
    const answersBefore = await answers(h.db);
    const definitionsBefore = await definitions(h.db);
    // The history has what the functions must tell apart: no rows before the first run, a
    // customer gone and back, a late one, a tenant gone.
    const counts = await h.db.query<{ at: Date; customers: number; tenants: number }>(
      `SELECT i.at, (SELECT count(*)::int FROM reporting.customers_at(i.at)) AS customers,
              (SELECT count(*)::int FROM reporting.tenants_at(i.at)) AS tenants
       FROM (${INSTANTS}) i ORDER BY i.at`,
    );
    const distinct = new Set(counts.map((c) => `${c.customers}/${c.tenants}`));
    expect(counts[0]).toMatchObject({ customers: 0, tenants: 0 });
    expect(counts.at(-1)?.customers).toBe(customers.length + late.length);
    expect(distinct.size).toBeGreaterThanOrEqual(4);
    expect(definitionsBefore).toHaveLength(2);
    expect(definitionsBefore.every((d) => d.prosecdef && !d.public_executes)).toBe(true);

    const applied = await upgrade(h);
    expect(applied.applied[0]).toBe(UPGRADE);

    expect(await answers(h.db)).toEqual(answersBefore);
    expect(await definitions(h.db)).toEqual(definitionsBefore);
    const reader = await connectAs(h.db, READER, READER_PASSWORD);
    // The reader may not read sync_runs: the instants go as text (microseconds kept).
    const instants = (await h.db.query<{ at: string }>(`SELECT at::text FROM (${INSTANTS}) i`)).map(
      (i) => i.at,
    );
    try {
      for (const fn of FUNCTIONS) {
        const { rows } = await reader.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM unnest($1::timestamptz[]) i(at)
           CROSS JOIN LATERAL reporting.${fn}(i.at)`,
          [instants],
        );
        expect({ fn, n: rows[0]?.n }).toEqual({ fn, n: answersBefore[fn]?.length });
      }
    } finally {
      await reader.end();
    }
  });
});
