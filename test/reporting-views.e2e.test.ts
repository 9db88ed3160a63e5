// The reporting views row by row, on the simulated days of test/support/reporting-scenario.ts:
// carry-forward days, two changes in one day, removal and restore, unknown codes, a failed run.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScenario, PEOPLE, type Scenario } from "./support/reporting-scenario.ts";

let s: Scenario;
let utc: pg.Client;

async function session(url: string, timeZone: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("SELECT set_config('TimeZone', $1, false)", [timeZone]);
  return client;
}

async function rows(client: pg.Client, sql: string): Promise<Record<string, unknown>[]> {
  const result = await client.query(sql);
  // Dates as ISO strings, so a mismatch prints readably.
  return result.rows.map((row: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(row).map(([key, value]) => [
        key,
        value instanceof Date ? value.toISOString() : value,
      ]),
    ),
  );
}

beforeAll(async () => {
  s = await createScenario();
  utc = await session(s.db.url, "UTC");
});

afterAll(async () => {
  // Either is missing when the scenario itself failed.
  await (utc as pg.Client | undefined)?.end();
  await (s as Scenario | undefined)?.close();
});

const { alpha, bravo, charlie, delta, uniform, echo } = PEOPLE;
const run = (n: number) => s.runAt[n - 1]?.toISOString();

describe("reporting.customers", () => {
  it("has every customer with labels, tenant count and since when its job status holds", async () => {
    expect(
      await rows(
        utc,
        `SELECT customer_id, organization, job_status, job_status_label, management_mode,
                management_mode_label, job_status_since, tenant_count, first_seen_at, last_seen_at,
                removed, removed_at
         FROM reporting.customers ORDER BY organization`,
      ),
    ).toEqual([
      {
        customer_id: alpha.id,
        organization: "Alpha",
        job_status: 1,
        job_status_label: "Working",
        management_mode: 0,
        management_mode_label: "Customer management of tenant",
        job_status_since: run(3),
        tenant_count: 1,
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        customer_id: bravo.id,
        organization: "Bravo",
        job_status: 1,
        job_status_label: "Working",
        management_mode: 1,
        management_mode_label: "Partner management of tenant",
        job_status_since: run(1), // a new management mode is not a new job status
        tenant_count: 1,
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        customer_id: charlie.id,
        organization: "Charlie",
        job_status: 1,
        job_status_label: "Working",
        management_mode: 1,
        management_mode_label: "Partner management of tenant",
        job_status_since: run(4),
        tenant_count: 1,
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        customer_id: delta.id,
        organization: "Delta",
        job_status: 2,
        job_status_label: "Failed",
        management_mode: 1,
        management_mode_label: "Partner management of tenant",
        job_status_since: run(4),
        tenant_count: 1,
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        customer_id: echo.id,
        organization: "Echo",
        job_status: 2,
        job_status_label: "Failed",
        management_mode: 2,
        management_mode_label: "To be configured",
        job_status_since: run(3),
        tenant_count: 1,
        first_seen_at: run(3),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        customer_id: uniform.id,
        organization: "Uniform",
        job_status: 9,
        job_status_label: "unknown (9)",
        management_mode: 7,
        management_mode_label: "unknown (7)",
        job_status_since: run(1),
        tenant_count: 0,
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
    ]);
  });

  it("shows a removed customer as removed, without a job status since", async () => {
    const client = await session(s.db.url, "UTC");
    try {
      await client.query("BEGIN");
      // As run 2 left Delta: absent from a complete run.
      await client.query(`UPDATE customers SET removed_at = $1 WHERE id = $2`, [run(2), delta.id]);
      expect(
        await rows(
          client,
          `SELECT removed, removed_at, job_status_since FROM reporting.customers
           WHERE customer_id = '${delta.id}'`,
        ),
      ).toEqual([{ removed: true, removed_at: run(2), job_status_since: null }]);
    } finally {
      await client.query("ROLLBACK");
      await client.end();
    }
  });
});

describe("reporting.tenants", () => {
  it("has every tenant with its customer's organization, removed ones flagged", async () => {
    expect(
      await rows(
        utc,
        `SELECT organization, tenant_name, first_seen_at, last_seen_at, removed, removed_at
         FROM reporting.tenants ORDER BY tenant_name`,
      ),
    ).toEqual([
      {
        organization: "Alpha",
        tenant_name: "alpha-0.onmicrosoft.com",
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        organization: "Alpha",
        tenant_name: "alpha-1.onmicrosoft.com",
        first_seen_at: run(1),
        last_seen_at: run(3),
        removed: true,
        removed_at: run(4),
      },
      {
        organization: "Bravo",
        tenant_name: "bravo-0.onmicrosoft.com",
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        organization: "Charlie",
        tenant_name: "charlie-0.onmicrosoft.com",
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        organization: "Delta",
        tenant_name: "delta-0.onmicrosoft.com",
        first_seen_at: run(1),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
      {
        organization: "Echo",
        tenant_name: "echo-0.onmicrosoft.com",
        first_seen_at: run(3),
        last_seen_at: run(4),
        removed: false,
        removed_at: null,
      },
    ]);
  });
});

describe("reporting.job_status_changes", () => {
  it("has one row per change: additions, removal, restore, both changes of one day", async () => {
    const changes = await rows(
      utc,
      `SELECT changed_at, run_id, organization, change_kind,
              previous_job_status_label AS prev_job, job_status_label AS job,
              previous_management_mode AS prev_mode, management_mode AS mode,
              job_status_changed, management_mode_changed
       FROM reporting.job_status_changes ORDER BY changed_at, organization`,
    );
    const change = (
      n: number,
      organization: string,
      change_kind: string,
      prev_job: string | null,
      job: string,
      prev_mode: number | null,
      mode: number,
      job_status_changed: boolean,
      management_mode_changed: boolean,
    ) => ({
      changed_at: run(n),
      run_id: n,
      organization,
      change_kind,
      prev_job,
      job,
      prev_mode,
      mode,
      job_status_changed,
      management_mode_changed,
    });
    expect(changes).toEqual([
      change(1, "Alpha", "added", null, "Working", null, 0, true, true),
      change(1, "Bravo", "added", null, "Working", null, 0, true, true),
      change(1, "Charlie", "added", null, "Failed", null, 1, true, true),
      change(1, "Delta", "added", null, "Waiting for Configuration", null, 1, true, true),
      change(1, "Uniform", "added", null, "unknown (9)", null, 7, true, true),
      change(2, "Alpha", "changed", "Working", "Failed", 0, 0, true, false),
      change(2, "Bravo", "changed", "Working", "Working", 0, 1, false, true),
      // Removed: the codes are the last known ones; nothing was entered.
      change(
        2,
        "Delta",
        "removed",
        "Waiting for Configuration",
        "Waiting for Configuration",
        1,
        1,
        false,
        false,
      ),
      change(3, "Alpha", "changed", "Failed", "Working", 0, 0, true, false),
      change(3, "Echo", "added", null, "Failed", null, 2, true, true),
      change(4, "Charlie", "changed", "Failed", "Working", 1, 1, true, false),
      change(4, "Delta", "restored", "Waiting for Configuration", "Failed", 1, 1, true, true),
    ]);
  });

  it("labels unknown previous codes too", async () => {
    const client = await session(s.db.url, "UTC");
    try {
      await client.query("BEGIN");
      await client.query(
        `UPDATE customer_status_history SET job_status = 11, management_mode = 12
         WHERE customer_id = $1 AND valid_to IS NOT NULL`,
        [alpha.id],
      );
      expect(
        await rows(
          client,
          `SELECT previous_job_status_label, previous_management_mode_label
           FROM reporting.job_status_changes WHERE customer_id = '${alpha.id}' AND run_id = 2`,
        ),
      ).toEqual([
        {
          previous_job_status_label: "unknown (11)",
          previous_management_mode_label: "unknown (12)",
        },
      ]);
    } finally {
      await client.query("ROLLBACK");
      await client.end();
    }
  });
});

describe("reporting.job_status_daily", () => {
  /** Non-zero counts per day as { day: { label: customers } }. */
  async function dailyCounts(client: pg.Client): Promise<Record<string, Record<string, number>>> {
    const result = await client.query<{ day: string; job_status_label: string; customers: number }>(
      `SELECT day::text AS day, job_status_label, customers FROM reporting.job_status_daily
       ORDER BY day, job_status`,
    );
    const counts: Record<string, Record<string, number>> = {};
    for (const row of result.rows) {
      const day = (counts[row.day] ??= {});
      if (row.customers !== 0) day[row.job_status_label] = row.customers;
    }
    return counts;
  }

  it("counts customers per job status at the end of every day from the first run to today", async () => {
    const first = { Working: 2, Failed: 1, "Waiting for Configuration": 1, "unknown (9)": 1 };
    // Day 2: Alpha went Failed and back to Working; Delta was removed; Echo was added.
    const third = { Working: 2, Failed: 2, "unknown (9)": 1 };
    const fifth = { Working: 3, Failed: 2, "unknown (9)": 1 };
    const expected: Record<string, Record<string, number>> = {};
    for (let n = 0; n <= 10; n++) expected[s.day(n)] = n < 2 ? first : n < 4 ? third : fifth;
    expect(await dailyCounts(utc)).toEqual(expected);
  });

  it("has a row for every known code and every code seen, every day, zeros included", async () => {
    const { rows: grid } = await utc.query<{ days: number; codes: number[]; per_day: string[] }>(
      `SELECT count(DISTINCT day)::int AS days,
              array_agg(DISTINCT job_status ORDER BY job_status) AS codes,
              array_agg(DISTINCT n::text) AS per_day
       FROM (SELECT day, job_status, count(*) OVER (PARTITION BY day) AS n
             FROM reporting.job_status_daily) d`,
    );
    expect(grid).toEqual([{ days: 11, codes: [0, 1, 2, 3, 4, 5, 6, 9], per_day: ["8"] }]);
  });

  it("takes its days from the session's time zone", async () => {
    const tokyo = await session(s.db.url, "Asia/Tokyo");
    try {
      const counts = await dailyCounts(tokyo);
      // Run 1 (22:00 UTC) is the next morning in Tokyo, and run 3 (20:00 UTC) the next
      // day's, so at the end of day 2 there Alpha is still Failed and Delta already gone.
      expect(Object.keys(counts)[0]).toBe(s.day(1));
      expect(counts[s.day(2)]).toEqual({ Working: 1, Failed: 2, "unknown (9)": 1 });
      expect(counts[s.day(3)]).toEqual({ Working: 2, Failed: 2, "unknown (9)": 1 });
    } finally {
      await tokyo.end();
    }
  });

  it("keeps its running sums equal to the history through inserts, updates, deletes and truncation", async () => {
    // The sums per instant the triggers keep, against the same sums computed from scratch.
    const drift = `
      WITH truth AS (
        SELECT p.at, h.job_status, sum(p.delta)::int AS delta
        FROM customer_status_history h
        CROSS JOIN LATERAL (VALUES (h.valid_from, 1), (h.valid_to, -1)) AS p(at, delta)
        WHERE NOT h.removed AND p.at IS NOT NULL
        GROUP BY 1, 2 HAVING sum(p.delta) <> 0)
      SELECT * FROM truth t FULL JOIN reporting_internal.job_status_deltas d USING (at, job_status)
      WHERE t.delta IS DISTINCT FROM d.delta`;
    const client = await session(s.db.url, "UTC");
    try {
      expect((await client.query(drift)).rows).toEqual([]);
      const { rows: before } = await client.query(
        "SELECT count(*)::int AS n FROM reporting_internal.job_status_deltas",
      );
      expect(before[0]).toEqual({ n: expect.any(Number) as number });
      await client.query("BEGIN");
      await client.query(
        "UPDATE customer_status_history SET job_status = 4 WHERE customer_id = $1",
        [charlie.id],
      );
      await client.query(
        "DELETE FROM customer_status_history WHERE customer_id = $1 AND valid_to IS NOT NULL",
        [alpha.id],
      );
      expect((await client.query(drift)).rows).toEqual([]);
      await client.query("TRUNCATE customer_status_history");
      const { rows: after } = await client.query(
        "SELECT count(*)::int AS n FROM reporting_internal.job_status_deltas",
      );
      expect(after).toEqual([{ n: 0 }]);
    } finally {
      await client.query("ROLLBACK");
      await client.end();
    }
  });
});

describe("reporting.customer_status_at_run", () => {
  it("has, for every succeeded run, every customer present then", async () => {
    const snapshot = await rows(
      utc,
      `SELECT run_id, run_started_at, organization, job_status_label, management_mode
       FROM reporting.customer_status_at_run ORDER BY run_id, organization`,
    );
    const at = (
      n: number,
      organization: string,
      job_status_label: string,
      management_mode: number,
    ) => ({
      run_id: n,
      run_started_at: run(n),
      organization,
      job_status_label,
      management_mode,
    });
    expect(snapshot).toEqual([
      at(1, "Alpha", "Working", 0),
      at(1, "Bravo", "Working", 0),
      at(1, "Charlie", "Failed", 1),
      at(1, "Delta", "Waiting for Configuration", 1),
      at(1, "Uniform", "unknown (9)", 7),
      at(2, "Alpha", "Failed", 0),
      at(2, "Bravo", "Working", 1),
      at(2, "Charlie", "Failed", 1),
      at(2, "Uniform", "unknown (9)", 7),
      at(3, "Alpha", "Working", 0),
      at(3, "Bravo", "Working", 1),
      at(3, "Charlie", "Failed", 1),
      at(3, "Echo", "Failed", 2),
      at(3, "Uniform", "unknown (9)", 7),
      at(4, "Alpha", "Working", 0),
      at(4, "Bravo", "Working", 1),
      at(4, "Charlie", "Working", 1),
      at(4, "Delta", "Failed", 1),
      at(4, "Echo", "Failed", 2),
      at(4, "Uniform", "unknown (9)", 7),
    ]);
  });
});

describe("reporting.sync_runs", () => {
  it("has every run with its duration and outcome", async () => {
    const runs = await rows(
      utc,
      `SELECT run_id, started_at, status, outcome, outcome_reason IS NOT NULL AS has_reason,
              duration_seconds = round(extract(epoch FROM finished_at - started_at), 3) AS duration_ok,
              duration_seconds >= 0 AS non_negative, customers_seen, customers_added,
              customers_removed, customers_restored, status_changes
       FROM reporting.sync_runs ORDER BY run_id`,
    );
    const ok = { duration_ok: true, non_negative: true };
    expect(runs).toEqual([
      {
        run_id: 1,
        started_at: run(1),
        status: "succeeded",
        outcome: "complete",
        has_reason: false,
        ...ok,
        customers_seen: 5,
        customers_added: 5,
        customers_removed: 0,
        customers_restored: 0,
        status_changes: 0,
      },
      {
        run_id: 2,
        started_at: run(2),
        status: "succeeded",
        outcome: "complete",
        has_reason: false,
        ...ok,
        customers_seen: 4,
        customers_added: 0,
        customers_removed: 1,
        customers_restored: 0,
        status_changes: 2,
      },
      {
        run_id: 3,
        started_at: run(3),
        status: "succeeded",
        outcome: "complete",
        has_reason: false,
        ...ok,
        customers_seen: 5,
        customers_added: 1,
        customers_removed: 0,
        customers_restored: 0,
        status_changes: 1,
      },
      {
        run_id: 4,
        started_at: run(4),
        status: "succeeded",
        outcome: "complete",
        has_reason: false,
        ...ok,
        customers_seen: 6,
        customers_added: 0,
        customers_removed: 0,
        customers_restored: 1,
        status_changes: 1,
      },
      {
        run_id: 5,
        started_at: run(5),
        status: "failed",
        outcome: "failed",
        has_reason: true,
        ...ok,
        customers_seen: 0,
        customers_added: 0,
        customers_removed: 0,
        customers_restored: 0,
        status_changes: 0,
      },
    ]);
  });

  it("calls a succeeded run that did not see everything incomplete, with the reason", async () => {
    const summary = await s.h.sync({ customerId: alpha.id });
    expect(summary.status).toBe("succeeded");
    const [row] = await rows(
      utc,
      `SELECT outcome, outcome_reason, customer_filter FROM reporting.sync_runs
       WHERE run_id = ${summary.runId}`,
    );
    expect(row).toEqual({
      outcome: "incomplete",
      outcome_reason: expect.stringMatching(/customer/) as string,
      customer_filter: alpha.id,
    });
  });
});
