// `elements-sync report` as people and scripts use it: a real child process reading the
// reporting views of the simulated days in test/support/reporting-scenario.ts.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../src/migrations.ts";
import { CHANGE_COLUMNS } from "../src/reporting/reports.ts";
import { NOT_MIGRATED, runCli } from "./support/cli.ts";
import { createTestDatabase } from "./support/database.ts";
import { createScenario, PEOPLE, type Scenario } from "./support/reporting-scenario.ts";

let s: Scenario;
let env: Record<string, string>;

beforeAll(async () => {
  s = await createScenario();
  env = { DATABASE_URL: s.db.url };
});

afterAll(async () => {
  await (s as Scenario | undefined)?.close();
});

const report = (...args: string[]) => runCli(["report", ...args, "--time-zone", "UTC"], env);

describe("elements-sync report changes", () => {
  it("prints the changes since a day as an aligned table, newest first, one per attribute", async () => {
    const result = await report("changes", "--since", s.day(4));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const at = `${s.day(4)} 02:00`;
    expect(result.stdout).toBe(
      [
        "changed at        run  organization  change           detail                              customer id",
        "----------------  ---  ------------  ---------------  ----------------------------------  ------------------------------------",
        `${at}    4  Alpha         tenant removed   alpha-1.onmicrosoft.com             ${PEOPLE.alpha.id}`,
        `${at}    4  Charlie       status           Failed → Working                    ${PEOPLE.charlie.id}`,
        `${at}    4  Delta         restored         Failed                              ${PEOPLE.delta.id}`,
        `${at}    4  Delta         status           Waiting for Configuration → Failed  ${PEOPLE.delta.id}`,
        `${at}    4  Delta         tenant restored  delta-0.onmicrosoft.com             ${PEOPLE.delta.id}`,
        "",
      ].join("\n"),
    );
  });

  it("lists the customers that went to a status, as JSON with the view's columns", async () => {
    const result = await report(
      "changes",
      "--since",
      "30d",
      "--status",
      "failed",
      "--format",
      "json",
    );
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    // Coming back, appearing, or changing into Failed: Delta came back and changed.
    expect(rows.map((row) => [row.run_id, row.organization, row.kind])).toEqual([
      [4, "Delta", "restored"],
      [4, "Delta", "status"],
      [3, "Echo", "added"],
      [2, "Alpha", "status"],
      [1, "Charlie", "added"],
    ]);
    expect(Object.keys(rows[0] ?? {})).toEqual(CHANGE_COLUMNS);
    expect(rows[0]?.changed_at).toBe(`${s.day(4)}T02:00:00.000+00:00`);
  });

  it("takes a status as a label in any spelling or as a code", async () => {
    const codes = async (status: string) => {
      const result = await report(
        "changes",
        "--since",
        "30d",
        "--status",
        status,
        "--format",
        "json",
      );
      expect(result.code).toBe(0);
      return (JSON.parse(result.stdout) as { job_status: number }[]).map((row) => row.job_status);
    };
    expect(await codes("WAITING-for_configuration")).toEqual([3]);
    expect(await codes("9")).toEqual([9]);
    expect(await codes("no-backup-update")).toEqual([]);
  });

  it("writes CSV with a header of the view's columns", async () => {
    const result = await report("changes", "--since", s.day(0), "--format", "csv", "--limit", "3");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\r\n");
    expect(lines[0]).toBe(CHANGE_COLUMNS.join(","));
    expect(lines).toHaveLength(4);
    expect(lines[3]).toContain(
      `,4,restored,customer,${PEOPLE.delta.id},,Delta,,presence,removed,present,removed,present,2,Failed`,
    );
  });

  it("shows days and times in the time zone asked for", async () => {
    const result = await runCli(
      ["report", "changes", "--since", s.day(4), "--time-zone", "Asia/Tokyo", "--format", "json"],
      env,
    );
    const rows = JSON.parse(result.stdout) as { changed_at: string }[];
    expect(rows[0]?.changed_at).toBe(`${s.day(4)}T11:00:00.000+09:00`);
  });
});

describe("elements-sync report trend", () => {
  it("prints customers per job status at the end of each day, one column per status in use", async () => {
    const result = await report("trend", "--days", "11");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(
      "day         Working  Failed  Waiting for Configuration  unknown (9)  total",
    );
    expect(lines.slice(2)).toEqual(
      Array.from({ length: 11 }, (_, n) => {
        const [working, failed, waiting] = n < 2 ? [2, 1, 1] : n < 4 ? [2, 2, 0] : [3, 2, 0];
        const total = working + failed + waiting + 1;
        return `${s.day(n)}  ${String(working).padStart(7)}  ${String(failed).padStart(6)}  ${String(waiting).padStart(25)}  ${"1".padStart(11)}  ${String(total).padStart(5)}`;
      }),
    );
  });

  it("gives scripts the view's rows", async () => {
    const result = await report("trend", "--days", "2", "--format", "json");
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2 * 8);
    expect(rows).toContainEqual({
      day: s.day(10),
      job_status: 1,
      job_status_label: "Working",
      customers: 3,
    });
  });
});

describe("elements-sync report runs", () => {
  it("prints the latest runs with duration and outcome", async () => {
    const result = await report("runs");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^run {2}started {11}seconds {2}outcome {3}customers/);
    expect(
      lines.slice(2).map((line) =>
        line
          .trim()
          .split(/\s{2,}/)
          .slice(0, 4),
      ),
    ).toEqual([
      ["5", `${s.day(4)} 03:00`, expect.stringMatching(/^\d+\.\d$/) as string, "failed"],
      ["4", `${s.day(4)} 02:00`, expect.stringMatching(/^\d+\.\d$/) as string, "complete"],
      ["3", `${s.day(2)} 20:00`, expect.stringMatching(/^\d+\.\d$/) as string, "complete"],
      ["2", `${s.day(2)} 08:00`, expect.stringMatching(/^\d+\.\d$/) as string, "complete"],
      ["1", `${s.day(0)} 22:00`, expect.stringMatching(/^\d+\.\d$/) as string, "complete"],
    ]);
    expect(lines[2]).toContain("400");
  });
});

describe("elements-sync report, used wrongly", () => {
  it.each([
    [["report"], "say which report: changes, trend, runs"],
    [["report", "bogus"], 'unknown report "bogus"'],
    [["report", "changes", "--since", "yesterday"], "--since must be a duration"],
    [["report", "changes", "--status", "sideways"], "--status must be a job status code or one of"],
    [["report", "runs", "--html", "x.html"], "--html does not apply to report runs"],
    [["report", "trend", "--format", "xml"], "--format must be table, csv or json"],
    [["report", "runs", "--raw"], "--raw applies to CSV only; add --format csv"],
    [
      ["report", "runs", "--format", "json", "--excel"],
      "--excel applies to CSV only; it cannot go with --format json",
    ],
    [["report", "trend", "--html", "x.html", "--excel"], "--html writes HTML; leave out --excel"],
    [["report", "trend", "--days", "0"], "--days must be an integer from 1"],
    [
      ["report", "runs", "--time-zone", "Mars/Olympus_Mons"],
      'does not know the time zone "Mars/Olympus_Mons"',
    ],
  ])("%j exits 2 saying what is wrong", async (args, message) => {
    const result = await runCli(args, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    // Arguments and options are usage; configuration is the environment's.
    expect(result.stderr).toMatch(/^elements-sync report: usage: /);
    expect(result.stdout).toBe("");
  });

  it("tells to migrate a database without the reporting views", async () => {
    const empty = await createTestDatabase("es_report");
    try {
      const result = await runCli(["report", "runs"], { DATABASE_URL: empty.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`elements-sync report: ${NOT_MIGRATED}\n`);
      const pool = new pg.Pool({ connectionString: empty.url, max: 1 });
      await migrate(pool);
      await pool.end();
      const migrated = await runCli(["report", "runs"], { DATABASE_URL: empty.url });
      expect(migrated).toMatchObject({ code: 0, stdout: "(no rows)\n" });
    } finally {
      await empty.drop();
    }
  });
});
