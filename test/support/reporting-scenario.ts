// Simulated days for the reporting tests: real syncs against the simulator, each run then
// moved back to a chosen instant. A run stamps everything it changes with its started_at
// (README, "The SQL contract"), so rewriting every timestamp equal to it moves the run
// exactly; runs are moved in the order they ran, each to before "now" and after the last.
import type { SimulatedCustomer } from "../../src/simulator/data.ts";
import type { TestDatabase } from "./database.ts";
import { createHarness, type Harness } from "./harness.ts";
import { expectInvariants } from "./invariants.ts";

/** Moves run `runId`, and everything it stamped, from its started_at to `to`. */
export async function moveRun(db: TestDatabase, runId: number, to: Date): Promise<void> {
  const [neighbours] = await db.query<{ before: Date | null; after: Date | null; now: Date }>(
    `SELECT (SELECT max(started_at) FROM sync_runs WHERE id < $1) AS before,
            (SELECT min(started_at) FROM sync_runs WHERE id > $1) AS after, now() AS now`,
    [runId],
  );
  if (!neighbours) throw new Error("unreachable");
  if ((neighbours.before && to <= neighbours.before) || neighbours.after || to >= neighbours.now) {
    throw new Error(`run ${runId} can only move to after the run before it and before now`);
  }
  // One UPDATE per table, each moving whichever of its stamps equals the run's start.
  const moves = Object.entries(STAMPS).map(([table, columns], i) => {
    const set = columns.map(
      (c) => `${c} = CASE WHEN t.${c} = run.old THEN $2::timestamptz ELSE t.${c} END`,
    );
    const stamped = columns.map((c) => `t.${c}`).join(", ");
    return `move_${i} AS (UPDATE ${table} t SET ${set.join(", ")}
       FROM run WHERE run.old IN (${stamped}))`;
  });
  await db.query(
    `WITH run AS (SELECT started_at AS old FROM sync_runs WHERE id = $1::int),
     runs AS (
       UPDATE sync_runs SET started_at = $2::timestamptz, finished_at = $2::timestamptz + (finished_at - started_at)
       WHERE id = $1::int),
     ${moves.join(",\n     ")}
     SELECT 1`,
    [runId, to],
  );
}

/** The columns a run stamps with its started_at, per table (README, "The SQL contract"). */
const STAMPS: Record<string, readonly string[]> = {
  customer_status_history: ["valid_from", "valid_to"],
  customer_history: ["valid_from", "valid_to"],
  tenant_history: ["valid_from", "valid_to"],
  subscription_history: ["valid_from", "valid_to"],
  backup_job_status_history: ["valid_from", "valid_to"],
  customers: ["first_seen_at", "last_seen_at", "removed_at"],
  tenants: ["first_seen_at", "last_seen_at", "removed_at"],
  subscriptions: ["first_seen_at", "last_seen_at", "removed_at"],
  // Jobs are never removed (a CHECK keeps removed_at null).
  backup_jobs: ["first_seen_at", "last_seen_at"],
};

/** Midnight UTC `days` days before today's (by the database's clock). */
export async function utcDaysAgo(db: TestDatabase, days: number): Promise<Date> {
  const [row] = await db.query<{ day: Date }>(
    "SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') - $1 * interval '1 day') AT TIME ZONE 'UTC' AS day",
    [days],
  );
  if (!row) throw new Error("unreachable");
  return row.day;
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

function customer(
  letter: string,
  organization: string,
  jobStatus: number,
  managementMode: number,
  tenants: number,
): SimulatedCustomer {
  const id = `00000000-0000-4000-8000-0000000000${letter}${letter}`;
  return {
    id,
    organization,
    ownerEmail: `admin@${organization.toLowerCase()}.example`,
    jobStatus,
    countryOrRegion: "DE",
    managementMode,
    tenants: Array.from({ length: tenants }, (_, index) => ({
      id: `00000000-0000-4000-9000-0000000000${letter}${index}`,
      name: `${organization.toLowerCase()}-${index}.onmicrosoft.com`,
    })),
  };
}

/**
 * The story every reporting test tells, in UTC, from day 0 (ten days ago):
 *   run 1, day 0 22:00  Alpha, Bravo Working; Charlie Failed; Delta Waiting; Uniform has
 *                       codes this version does not know (job status 9, management mode 7)
 *   (day 1: no run)
 *   run 2, day 2 08:00  Alpha Failed; Delta gone (removed); Bravo's management mode 0 → 1
 *   run 3, day 2 20:00  Alpha Working again (two changes in one day); Echo added, Failed
 *   (day 3: no run)
 *   run 4, day 4 02:00  Delta back, now Failed (restored); Charlie Working; a tenant of Alpha gone
 *   run 5, day 4 03:00  fails (the API answers 400): changes nothing
 *   (days 5 to 10, today: no run)
 */
export const PEOPLE = {
  alpha: customer("a", "Alpha", 1, 0, 2),
  bravo: customer("b", "Bravo", 1, 0, 1),
  charlie: customer("c", "Charlie", 2, 1, 1),
  delta: customer("d", "Delta", 3, 1, 1),
  uniform: customer("f", "Uniform", 9, 7, 0),
  echo: customer("e", "Echo", 2, 2, 1),
};

export interface Scenario {
  h: Harness;
  db: TestDatabase;
  /** Midnight UTC of day 0. */
  day0: Date;
  /** When each run (1 to 5) was moved to. */
  runAt: Date[];
  /** YYYY-MM-DD of day `n` in UTC. */
  day(n: number): string;
  close(): Promise<void>;
}

export async function createScenario(): Promise<Scenario> {
  const { alpha, bravo, charlie, delta, uniform, echo } = PEOPLE;
  const h = await createHarness({ customers: [alpha, bravo, charlie, delta, uniform] });
  const day0 = await utcDaysAgo(h.db, 10);
  const at = (day: number, hour: number) => new Date(day0.getTime() + day * DAY + hour * HOUR);
  const runAt = [at(0, 22), at(2, 8), at(2, 20), at(4, 2), at(4, 3)];
  const edited = (base: SimulatedCustomer, change: Partial<SimulatedCustomer>) => ({
    ...structuredClone(base),
    ...change,
  });
  const steps: (() => Promise<void>)[] = [
    () => Promise.resolve(),
    () =>
      h.serve([
        edited(alpha, { jobStatus: 2 }),
        edited(bravo, { managementMode: 1 }),
        charlie,
        uniform,
      ]),
    () => h.serve([alpha, edited(bravo, { managementMode: 1 }), charlie, uniform, echo]),
    () =>
      h.serve([
        edited(alpha, { tenants: alpha.tenants.slice(0, 1) }),
        edited(bravo, { managementMode: 1 }),
        edited(charlie, { jobStatus: 1 }),
        edited(delta, { jobStatus: 2 }),
        uniform,
        echo,
      ]),
    () => {
      h.simulator.injectFault({ status: 400 });
      return Promise.resolve();
    },
  ];
  try {
    for (const [index, step] of steps.entries()) {
      await step();
      const summary = await h.sync();
      const expected = index === 4 ? "failed" : "succeeded";
      if (summary.status !== expected) {
        throw new Error(`scenario run ${index + 1} ${summary.status}, expected ${expected}`);
      }
      await moveRun(h.db, summary.runId, runAt[index] ?? new Date(0));
      await expectInvariants(h.db);
    }
  } catch (error) {
    await h.close();
    throw error;
  }
  return {
    h,
    db: h.db,
    day0,
    runAt,
    day: (n) => new Date(day0.getTime() + n * DAY).toISOString().slice(0, 10),
    close: () => h.close(),
  };
}
