// README.md is the user's manual: this file holds it to the code. The SQL contract must
// match the migrated database, the example queries must run and answer correctly, and
// the configuration table must list what .env.example lists.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** Rows of the first markdown table after `heading`, as arrays of trimmed cells. */
function tableAfter(heading: string): string[][] {
  const start = README.indexOf(heading);
  if (start < 0) throw new Error(`README has no heading ${heading}`);
  const lines = README.slice(start).split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows.slice(2); // header and separator
}

function unquote(cell: string): string {
  return cell.replaceAll("`", "");
}

function exampleQuery(name: string): string {
  const match = new RegExp(`<!-- query: ${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(
    README,
  );
  if (!match?.[1]) throw new Error(`README has no query ${name}`);
  return match[1];
}

const TYPE_WORDS: Record<string, string> = {
  text: "text",
  integer: "integer",
  bigint: "bigint",
  boolean: "boolean",
  timestamptz: "timestamp with time zone",
};

describe("README", () => {
  let h: Harness;
  const customers = sampleCustomers(20);
  const [changed, removed] = customers;
  if (!changed || !removed) throw new Error("unreachable");

  beforeAll(async () => {
    h = await createHarness({ customers });
    await h.sync();
    // Run 2: one status change and one removal; run 3: the removed customer is back.
    const edited = structuredClone(customers);
    const first = edited[0];
    if (first) first.jobStatus = first.jobStatus === 2 ? 1 : 2;
    await h.serve(edited.filter((c) => c.id !== removed.id));
    await h.sync();
    await h.serve(edited);
    await h.sync();
  });

  afterAll(async () => {
    await h.close();
  });

  it.each(["customers", "tenants", "customer_status_history", "sync_runs"])(
    "documents every column of %s with its type and nullability",
    async (table) => {
      const documented = tableAfter(`### \`${table}\``).map(([column = "", type = ""]) => ({
        column: unquote(column),
        type: TYPE_WORDS[type.split(/[ ,]/)[0] ?? ""] ?? `undocumented type ${type}`,
        nullable: /\bnull\b/.test(type),
      }));
      const actual = await h.db.query<{ column: string; type: string; nullable: boolean }>(
        `SELECT column_name AS column, data_type AS type, is_nullable = 'YES' AS nullable
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
         ORDER BY ordinal_position`,
        [table],
      );
      expect(documented).toEqual(actual);
    },
  );

  it("lists the code tables' seeded values", async () => {
    const rows = tableAfter("### `job_status_codes` and `management_mode_codes`");
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
    const rows = await h.db.query<{
      customer_id: string;
      run_id: number;
      removed: boolean;
      was_removed: boolean;
      job_status: number;
      previous_job_status: number;
    }>(exampleQuery("changes-last-7-days"));
    const facts = rows
      .map((r) => ({
        customer: r.customer_id,
        run: r.run_id,
        removed: r.removed,
        was_removed: r.was_removed,
      }))
      .sort((a, b) => a.run - b.run || a.customer.localeCompare(b.customer));
    expect(facts).toEqual(
      [
        { customer: changed.id, run: 2, removed: false, was_removed: false },
        { customer: removed.id, run: 2, removed: true, was_removed: false },
        { customer: removed.id, run: 3, removed: false, was_removed: true },
      ].sort((a, b) => a.run - b.run || a.customer.localeCompare(b.customer)),
    );
  });

  it("gives every present customer's status at each run", async () => {
    const rows = await h.db.query<{ run_id: number; customer_id: string; job_status: number }>(
      exampleQuery("status-at-each-run"),
    );
    const perRun = (run: number) => rows.filter((r) => r.run_id === run);
    expect(perRun(1)).toHaveLength(20);
    expect(perRun(2)).toHaveLength(19);
    expect(perRun(2).some((r) => r.customer_id === removed.id)).toBe(false);
    expect(perRun(3)).toHaveLength(20);
    const statusOf = (run: number) =>
      perRun(run).find((r) => r.customer_id === changed.id)?.job_status;
    expect(statusOf(1)).toBe(changed.jobStatus);
    expect(statusOf(2)).not.toBe(changed.jobStatus);
    expect(statusOf(3)).toBe(statusOf(2));
  });

  it("documents the same variables as .env.example", () => {
    const documented = tableAfter("## Configuration").map(([name = ""]) => unquote(name));
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
    expect(README).toContain(`DATABASE_URL=${url}`);
    expect(ports[0]).toBe("127.0.0.1:${POSTGRES_PORT:-5432}:5432");
  });

  it("runs on the Node 24 that npm ci installs", () => {
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(24);
  });
});
