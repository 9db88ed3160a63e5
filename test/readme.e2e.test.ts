// README.md and docs/ are the user's manual: this file holds it to the code. The SQL
// contract must match the migrated database, the example queries must run and answer
// correctly, and the configuration table must list what .env.example lists. Each check finds
// its section in whichever page of the manual holds it (test/support/manual.ts).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_VARIABLES } from "../src/config.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { exampleQuery, manualText, tableAfter } from "./support/manual.ts";
import { moveRun } from "./support/reporting-scenario.ts";
import { observeJob, observeSubscription, type FixtureRun } from "./support/resource-fixtures.ts";

function unquote(cell: string): string {
  return cell.replaceAll("`", "");
}

const TYPE_WORDS: Record<string, string> = {
  text: "text",
  integer: "integer",
  bigint: "bigint",
  boolean: "boolean",
  timestamptz: "timestamp with time zone",
  date: "date",
  numeric: "numeric",
  jsonb: "jsonb",
  // information_schema calls every array type ARRAY.
  "text[]": "ARRAY",
};

/** The functions documented under "The reporting views": `### reporting.f(param type)` headings. */
function documentedFunctions(): { name: string; parameter: { name: string; type: string } }[] {
  return [...manualText().matchAll(/^#+ `reporting\.(\w+)\((\w+) (\w+)\)`/gm)].map((match) => ({
    name: match[1] ?? "",
    parameter: {
      name: match[2] ?? "",
      type: TYPE_WORDS[match[3] ?? ""] ?? `undocumented ${match[3]}`,
    },
  }));
}

/** The views documented under "The reporting views", from their `### reporting.x` headings. */
function documentedViews(): string[] {
  return [...manualText().matchAll(/^#+ `reporting\.(\w+)`/gm)].map((match) => match[1] ?? "");
}

describe("README", () => {
  let h: Harness;
  const customers = sampleCustomers(20);
  const [changed, removed, renamedTenantOwner] = customers;
  if (!changed || !removed || !renamedTenantOwner) throw new Error("unreachable");
  const renamedTenant = renamedTenantOwner.tenants[0];
  if (!renamedTenant) throw new Error("the sample's third customer has no tenant");

  // When runs 1 and 2 happened: the day before yesterday and yesterday, at noon of the
  // database session's time zone (the one the example queries' `current_date` uses).
  const noonDaysAgo = async (days: number) => {
    const [row] = await h.db.query<{ at: Date }>(
      "SELECT (current_date - $1::int + time '12:00')::timestamptz AS at",
      [days],
    );
    if (!row) throw new Error("unreachable");
    return row.at;
  };

  beforeAll(async () => {
    h = await createHarness({ customers });
    await moveRun(h.db, (await h.sync()).runId, await noonDaysAgo(2));
    // Run 2: one status change, one removal and a tenant renamed; run 3 (today): the removed
    // customer is back.
    const edited = structuredClone(customers);
    const first = edited[0];
    if (first) first.jobStatus = first.jobStatus === 2 ? 1 : 2;
    const tenant = edited[2]?.tenants[0];
    if (tenant) tenant.name = "renamed.example";
    await h.serve(edited.filter((c) => c.id !== removed.id));
    await moveRun(h.db, (await h.sync()).runId, await noonDaysAgo(1));
    await h.serve(edited);
    await h.sync();
    await addJobsAndSubscriptions();
  });

  /** Ids the example queries about jobs and subscriptions are checked with. */
  const resources = { failing: "", working: "" };

  /**
   * Backup jobs and subscriptions as runs 1 to 3 would have recorded them, written as the
   * merge writes them, beside whatever the sync recorded (rows named readme-… or Readme …).
   */
  async function addJobsAndSubscriptions(): Promise<void> {
    const runs = await h.db.query<FixtureRun>(
      `SELECT id, started_at AS "startedAt" FROM sync_runs ORDER BY id`,
    );
    const [run1, run2, run3] = runs;
    if (!run1 || !run2 || !run3) throw new Error("three runs");
    const [failing, working] = await h.db.query<{ id: string }>(
      `(SELECT id FROM customers WHERE removed_at IS NULL AND job_status IN (2, 4, 5) ORDER BY id LIMIT 1)
       UNION ALL
       (SELECT id FROM customers WHERE removed_at IS NULL AND job_status = 1 ORDER BY id LIMIT 1)`,
    );
    if (!failing || !working) throw new Error("the sample has a failing and a working customer");
    resources.failing = failing.id;
    resources.working = working.id;
    const job = (customerId: string, jobId: string, status: number) => ({
      customerId,
      jobId,
      status,
      name: jobId,
    });
    await observeJob(h.db, run1, job(failing.id, "readme-failed", 1));
    await observeJob(h.db, run2, job(failing.id, "readme-failed", 3));
    await observeJob(h.db, run2, job(failing.id, "readme-fine", 2));
    await observeJob(h.db, run2, job(working.id, "readme-working-failed", 3));

    const [month] = await h.db.query<{ within: Date; next: Date; last: Date }>(
      `SELECT date_trunc('month', current_date) + interval '27 days' AS within,
              date_trunc('month', current_date) + interval '1 month 1 day' AS next,
              date_trunc('month', current_date) - interval '1 day' AS last`,
    );
    if (!month) throw new Error("unreachable");
    const subscription = (service: string, expirationDate: Date, seats = 10) => ({
      customerId: working.id,
      service,
      source: "AvePoint pooled subscription",
      expirationDate,
      purchasedUserSeats: seats,
    });
    for (const run of [run1, run2, run3]) {
      await observeSubscription(h.db, run, subscription("Readme this month", month.within));
      await observeSubscription(h.db, run, subscription("Readme next month", month.next));
      await observeSubscription(h.db, run, subscription("Readme last month", month.last));
    }
    await observeSubscription(h.db, run1, subscription("Readme removed", month.within));
    await observeSubscription(h.db, run3, subscription("Readme removed", month.within), true);
    // Seats: 50 when first seen, 75 from run 2 on.
    await observeSubscription(h.db, run1, subscription("Readme seats", month.next, 50));
    await observeSubscription(h.db, run2, subscription("Readme seats", month.next, 75));
    await observeSubscription(h.db, run3, subscription("Readme seats", month.next, 75));
  }

  afterAll(async () => {
    await h.close();
  });

  it.each([
    "customers",
    "tenants",
    "customer_status_history",
    "customer_history",
    "tenant_history",
    "sync_runs",
  ])("documents every column of %s with its type and nullability", async (table) => {
    const documented = tableAfter(`\`${table}\``).map(([column = "", type = ""]) => ({
      column: unquote(column),
      type: TYPE_WORDS[type.split(/[ ,]/)[0] ?? ""] ?? `undocumented type ${type}`,
      nullable: /\bnull\b/.test(type),
    }));
    const actual = await h.db.query<{ column: string; type: string; nullable: boolean }>(
      // A column a CHECK (column IS NOT NULL) keeps NULL out of cannot hold NULL either: a
      // Prisma list column is declared so (sync_runs.new_fields).
      `SELECT column_name AS column, data_type AS type,
              is_nullable = 'YES' AND NOT EXISTS (
                SELECT 1 FROM pg_constraint k
                WHERE k.conrelid = format('public.%I', table_name)::regclass AND k.contype = 'c'
                  AND pg_get_constraintdef(k.oid) = format('CHECK ((%I IS NOT NULL))', column_name)
              ) AS nullable
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
         ORDER BY ordinal_position`,
      [table],
    );
    expect(documented).toEqual(actual);
  });

  it("lists the code tables' seeded values", async () => {
    const rows = tableAfter("`job_status_codes` and `management_mode_codes`");
    const jobs = rows.map(([code, label]) => ({ code: Number(code), label }));
    const modes = rows
      .filter(([, , code]) => code !== "")
      .map(([, , code, label]) => ({ code: Number(code), label }));
    expect(jobs).toEqual(
      await h.db.query("SELECT code, label FROM job_status_codes ORDER BY code"),
    );
    expect(modes).toEqual(
      await h.db.query("SELECT code, label FROM management_mode_codes ORDER BY code"),
    );
  });

  it("stamps everything a run changes with the run's started_at", async () => {
    const unstamped = await h.db.query(
      `SELECT 'period' AS what, h.id::text FROM customer_status_history h
         JOIN sync_runs r ON r.id = h.opened_by_run_id WHERE h.valid_from <> r.started_at
       UNION ALL
       SELECT 'closed period', h.id::text FROM customer_status_history h
         JOIN sync_runs r ON r.id = h.closed_by_run_id WHERE h.valid_to <> r.started_at
       UNION ALL
       SELECT 'customer period', h.id::text FROM customer_history h
         JOIN sync_runs r ON r.id = h.opened_by_run_id WHERE h.valid_from <> r.started_at
       UNION ALL
       SELECT 'closed customer period', h.id::text FROM customer_history h
         JOIN sync_runs r ON r.id = h.closed_by_run_id WHERE h.valid_to <> r.started_at
       UNION ALL
       SELECT 'tenant period', h.id::text FROM tenant_history h
         JOIN sync_runs r ON r.id = h.opened_by_run_id WHERE h.valid_from <> r.started_at
       UNION ALL
       SELECT 'closed tenant period', h.id::text FROM tenant_history h
         JOIN sync_runs r ON r.id = h.closed_by_run_id WHERE h.valid_to <> r.started_at
       UNION ALL
       SELECT 'last seen', c.id FROM customers c
        WHERE c.last_seen_at <> (SELECT max(started_at) FROM sync_runs WHERE status = 'succeeded')
       UNION ALL
       SELECT 'removed', c.id FROM customers c
        WHERE c.removed_at IS NOT NULL AND c.removed_at NOT IN (SELECT started_at FROM sync_runs)`,
    );
    expect(unstamped).toEqual([]);
    const removedAt = await h.db.query(
      "SELECT count(*)::int AS n FROM customer_status_history WHERE removed",
    );
    expect(removedAt).toEqual([{ n: 1 }]);
  });

  it("counts current customers by job status", async () => {
    const rows = await h.db.query<{ job_status: number; customers: string }>(
      exampleQuery("customers-by-job-status"),
    );
    const expected = new Map<number, number>();
    const now = structuredClone(customers);
    if (now[0]) now[0].jobStatus = now[0].jobStatus === 2 ? 1 : 2;
    for (const c of now) expected.set(c.jobStatus, (expected.get(c.jobStatus) ?? 0) + 1);
    expect(new Map(rows.map((r) => [r.job_status, Number(r.customers)]))).toEqual(expected);
  });

  it("lists the last 7 days' changes, removals and restores included", async () => {
    const rows = await h.db.query<{ customer_id: string; run_id: number; change_kind: string }>(
      exampleQuery("changes-last-7-days"),
    );
    const facts = rows
      .map((r) => ({ customer: r.customer_id, run: r.run_id, kind: r.change_kind }))
      .sort((a, b) => a.run - b.run || a.customer.localeCompare(b.customer));
    expect(facts).toEqual(
      [
        { customer: changed.id, run: 2, kind: "changed" },
        { customer: removed.id, run: 2, kind: "removed" },
        { customer: removed.id, run: 3, kind: "restored" },
      ].sort((a, b) => a.run - b.run || a.customer.localeCompare(b.customer)),
    );
  });

  it("gives yesterday's nightly snapshot: every customer present at its last run", async () => {
    const rows = await h.db.query<{ customer_id: string; job_status_label: string }>(
      exampleQuery("snapshot-of-a-date"),
    );
    expect(rows).toHaveLength(19);
    expect(rows.some((r) => r.customer_id === removed.id)).toBe(false);
    const now = changed.jobStatus === 2 ? "Working" : "Failed";
    expect(rows.find((r) => r.customer_id === changed.id)?.job_status_label).toBe(now);
  });

  it("gives customers per job status at the end of each week and today", async () => {
    const rows = await h.db.query<{ week_ending: string; customers: number }>(
      `SELECT week_ending::text, customers FROM (${exampleQuery("status-trend-per-week").replace(/;\s*$/, "")}) q`,
    );
    const [today] = await h.db.query<{ today: string }>("SELECT current_date::text AS today");
    const last = rows.filter((r) => r.week_ending === today?.today);
    expect(last.reduce((sum, r) => sum + r.customers, 0)).toBe(20);
    const days = await h.db.query<{ sunday_or_today: boolean }>(
      `SELECT extract(isodow FROM d::date) = 7 OR d::date = current_date AS sunday_or_today
       FROM unnest($1::text[]) AS d`,
      [rows.map((r) => r.week_ending)],
    );
    expect(days.every((d) => d.sunday_or_today)).toBe(true);
  });

  it("lists the customers that went to Failed since yesterday", async () => {
    const rows = await h.db.query<{ customer_id: string; change_kind: string }>(
      exampleQuery("went-failed-since-yesterday"),
    );
    const expected = [
      ...(changed.jobStatus === 2 ? [] : [{ customer_id: changed.id, change_kind: "changed" }]),
      ...(removed.jobStatus === 2 ? [{ customer_id: removed.id, change_kind: "restored" }] : []),
    ];
    expect(rows.map(({ customer_id, change_kind }) => ({ customer_id, change_kind }))).toEqual(
      expect.arrayContaining(expected),
    );
    expect(rows).toHaveLength(expected.length);
  });

  it("documents every view of the reporting schema, column by column with its type", async () => {
    const views = await h.db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = 'reporting' ORDER BY table_name`,
    );
    expect([...documentedViews()].sort()).toEqual(views.map((v) => v.name));
    for (const view of documentedViews()) {
      const documented = tableAfter(`\`reporting.${view}\``).map(([column = "", type = ""]) => ({
        column: unquote(column),
        type: TYPE_WORDS[type] ?? `undocumented type ${type}`,
      }));
      const actual = await h.db.query<{ column: string; type: string }>(
        `SELECT column_name AS column, data_type AS type FROM information_schema.columns
         WHERE table_schema = 'reporting' AND table_name = $1 ORDER BY ordinal_position`,
        [view],
      );
      expect({ view, columns: documented }).toEqual({ view, columns: actual });
    }
  });

  it("documents every function of the reporting schema: its parameter and result columns", async () => {
    const functions = await h.db.query<{ name: string }>(
      `SELECT routine_name AS name FROM information_schema.routines
       WHERE routine_schema = 'reporting' ORDER BY routine_name`,
    );
    expect(
      documentedFunctions()
        .map((f) => f.name)
        .sort(),
    ).toEqual(functions.map((f) => f.name));
    for (const { name, parameter } of documentedFunctions()) {
      const columns = tableAfter(`\`reporting.${name}(`).map(([column = "", type = ""]) => ({
        name: unquote(column),
        type: TYPE_WORDS[type] ?? `undocumented type ${type}`,
      }));
      const actual = await h.db.query<{ mode: string; name: string; type: string }>(
        `SELECT p.parameter_mode AS mode, p.parameter_name AS name, p.data_type AS type
         FROM information_schema.parameters p
         JOIN information_schema.routines r ON r.specific_schema = p.specific_schema
          AND r.specific_name = p.specific_name
         WHERE r.routine_schema = 'reporting' AND r.routine_name = $1
         ORDER BY p.ordinal_position`,
        [name],
      );
      const inputs = actual
        .filter((p) => p.mode === "IN")
        .map(({ name, type }) => ({ name, type }));
      const results = actual
        .filter((p) => p.mode === "OUT")
        .map(({ name, type }) => ({ name, type }));
      expect({ name, inputs, results }).toEqual({ name, inputs: [parameter], results: columns });
    }
  });

  it("lists the last 7 days' attribute changes, tenants' included, first sightings left out", async () => {
    const rows = await h.db.query<{
      entity: string;
      customer_id: string;
      tenant_id: string | null;
      field: string;
      old_value: string | null;
      new_value: string | null;
    }>(exampleQuery("attribute-changes-last-7-days"));
    const facts = rows.map((r) =>
      [r.entity, r.customer_id, r.tenant_id, r.field, r.old_value, r.new_value].join(" "),
    );
    const presence = (from: string, to: string) => [
      `customer ${removed.id}  presence ${from} ${to}`,
      ...removed.tenants.map((t) => `tenant ${removed.id} ${t.id} presence ${from} ${to}`),
    ];
    const status = (jobStatus: number) => (jobStatus === 2 ? 1 : 2);
    expect(facts.sort()).toEqual(
      [
        `customer ${changed.id}  job_status ${changed.jobStatus} ${status(changed.jobStatus)}`,
        `tenant ${renamedTenantOwner.id} ${renamedTenant.id} name ${renamedTenant.name} renamed.example`,
        ...presence("present", "removed"),
        ...presence("removed", "present"),
      ].sort(),
    );
  });

  it("gives the customer list at the start of today, as it was after yesterday's run", async () => {
    const rows = await h.db.query<{
      customer_id: string;
      job_status_label: string;
      tenant_count: number;
    }>(exampleQuery("customers-on-a-date"));
    expect(rows).toHaveLength(19);
    expect(rows.some((r) => r.customer_id === removed.id)).toBe(false);
    const now = changed.jobStatus === 2 ? "Working" : "Failed";
    expect(rows.find((r) => r.customer_id === changed.id)?.job_status_label).toBe(now);
    expect(rows.find((r) => r.customer_id === renamedTenantOwner.id)?.tenant_count).toBe(
      renamedTenantOwner.tenants.length,
    );
  });

  it("gives one tenant's names over time", async () => {
    // The README's ids are placeholders: this tenant's instead.
    const sql = exampleQuery("tenant-names-over-time")
      .replace(/customer_id = '[^']*'/, `customer_id = '${renamedTenantOwner.id}'`)
      .replace(/tenant_id = '[^']*'/, `tenant_id = '${renamedTenant.id}'`);
    const rows = await h.db.query<{ field: string; old_value: string | null; new_value: string }>(
      sql,
    );
    expect(
      rows.map(({ field, old_value, new_value }) => ({ field, old_value, new_value })),
    ).toEqual([
      { field: "presence", old_value: null, new_value: "present" },
      { field: "name", old_value: renamedTenant.name, new_value: "renamed.example" },
    ]);
  });

  it("lists the failing customers and why: each with its failing jobs", async () => {
    const rows = await h.db.query<{
      customer_id: string;
      job_id: string | null;
      status_label: string;
    }>(exampleQuery("failing-customers-and-why"));
    const failing = await h.db.query<{ id: string }>(
      "SELECT id FROM customers WHERE removed_at IS NULL AND job_status IN (2, 4, 5)",
    );
    expect(new Set(rows.map((row) => row.customer_id))).toEqual(new Set(failing.map((c) => c.id)));
    const ours = rows.filter((row) => row.job_id?.startsWith("readme-"));
    expect(
      ours.map(({ customer_id, job_id, status_label }) => ({ customer_id, job_id, status_label })),
    ).toEqual([
      { customer_id: resources.failing, job_id: "readme-failed", status_label: "Failed" },
    ]);
  });

  it("lists the subscriptions expiring this month, present ones only", async () => {
    const rows = await h.db.query<{ service: string; purchased_user_seats: number }>(
      exampleQuery("subscriptions-expiring-this-month"),
    );
    const ours = rows.filter((row) => row.service.startsWith("Readme "));
    expect(ours.map((row) => [row.service, row.purchased_user_seats])).toEqual([
      ["Readme this month", 10],
    ]);
  });

  it("gives one customer's seats over time", async () => {
    const sql = exampleQuery("seats-over-time").replace(
      /customer_id = '[^']*'/,
      `customer_id = '${resources.working}'`,
    );
    const rows = await h.db.query<{
      service: string;
      run_id: number;
      field: string;
      old_value: string | null;
      new_value: string;
    }>(sql);
    const seats = rows.filter((row) => row.service === "Readme seats");
    expect(seats.map(({ field, old_value, new_value }) => [field, old_value, new_value])).toEqual([
      ["presence", null, "present"],
      ["purchased_user_seats", "50", "75"],
    ]);
    const removed = rows.filter((row) => row.service === "Readme removed");
    expect(removed.map((row) => row.new_value)).toEqual(["present", "removed"]);
  });

  it("documents every variable the configuration reads, and no other", () => {
    const documented = tableAfter("Configuration").map(([name = ""]) => unquote(name));
    expect(documented.toSorted()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it("gives every column of the reporting views README's meaning as its comment", async () => {
    for (const view of documentedViews()) {
      // Comments are plain text: README's meaning without its markdown code marks.
      const documented = tableAfter(`\`reporting.${view}\``).map(
        ([column = "", , meaning = ""]) => ({ column: unquote(column), comment: unquote(meaning) }),
      );
      const actual = await h.db.query<{ column: string; comment: string | null }>(
        `SELECT a.attname AS column, col_description(a.attrelid, a.attnum) AS comment
         FROM pg_attribute a
         WHERE a.attrelid = format('reporting.%I', $1::text)::regclass
           AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum`,
        [view],
      );
      expect({ view, columns: actual }).toEqual({ view, columns: documented });
    }
  });

  it("documents the same variables as .env.example", () => {
    const documented = tableAfter("Configuration").map(([name = ""]) => unquote(name));
    const example = readFileSync(new URL("../.env.example", import.meta.url), "utf8");
    const listed = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(listed)).toEqual(new Set(documented));
  });

  it("ships a compose file whose PostgreSQL has a volume and a health check", () => {
    const compose = parse(
      readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8"),
    ) as {
      services: Record<
        string,
        { image?: string; volumes?: string[]; healthcheck?: { test?: string[] } }
      >;
      volumes?: Record<string, unknown>;
    };
    const postgres = compose.services.postgres;
    expect(postgres?.image).toMatch(/^postgres:/);
    expect(postgres?.volumes?.[0]).toMatch(/^pgdata:/);
    expect(compose.volumes).toHaveProperty("pgdata");
    expect(postgres?.healthcheck?.test?.join(" ")).toContain("pg_isready");
  });

  it("gives the compose database's URL as the compose file defines it", () => {
    const compose = parse(
      readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8"),
    ) as {
      services: { postgres: { environment: Record<string, string>; ports: string[] } };
    };
    const { environment, ports } = compose.services.postgres;
    const url = `postgresql://${environment.POSTGRES_USER ?? ""}:${environment.POSTGRES_PASSWORD ?? ""}@127.0.0.1:5432/${environment.POSTGRES_DB ?? ""}`;
    expect(manualText()).toContain(`DATABASE_URL=${url}`);
    expect(ports[0]).toBe("127.0.0.1:${POSTGRES_PORT:-5432}:5432");
  });

  it("ships Metabase for the reporting views in the bi profile, on 127.0.0.1 only", () => {
    const compose = parse(
      readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8"),
    ) as {
      services: Record<string, { image?: string; profiles?: string[]; ports?: string[] }>;
    };
    const metabase = compose.services.metabase;
    expect(metabase?.image).toMatch(/^metabase\/metabase:/);
    expect(metabase?.profiles).toEqual(["bi"]);
    expect(metabase?.ports?.[0]).toMatch(/^127\.0\.0\.1:/);
    expect(manualText()).toContain("docker compose --profile bi up -d");
  });

  it("runs on the Node 24 that npm ci installs", () => {
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(24);
  });
});
