// `elements-sync status` as people read it in a terminal: the table fits 120 columns whatever
// the runs hold (a long error, a one-customer run, an error body full of control characters),
// each note sits on a line under its run, one too long ends in "…" with a hint how to see it
// whole, and `--wide` shows every column and every note whole.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { recordResources } from "./support/resource-fixtures.ts";

let h: Harness;
let env: Record<string, string>;
const customers = sampleCustomers(12);
const oneCustomer = customers[3]?.id ?? "";
/** What a hostile or broken API could answer a 403 with: a line break, a tab, colour, RTL. */
const HOSTILE_BODY = "denied by policy\n\tcall \u001b[31msupport\u001b[0m \u202eevil";
const PERMISSION =
  "The app registration lacks the permission elements.customers.read.all (403). Grant it under Elements > API app registration";
const DATE_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

function longestLine(text: string): number {
  return Math.max(...text.split("\n").map((line) => line.length));
}

/** A line of what a run got of each resource (a run recorded by this version has one). */
const isResourceLine = (line: string) => /^ +customers (complete|partial|skipped):/.test(line);

/** The table of `status`: the lines between the blank line under the schedule and the next. */
function tableLines(stdout: string): string[] {
  return stdout.trimEnd().split("\n\n")[1]?.split("\n") ?? [];
}

beforeAll(async () => {
  h = await createHarness({ customers });
  h.simulator.injectFault({ status: 403, times: 1 });
  await h.sync(); // 1: failed, a long note
  h.simulator.injectFault({ status: 403, times: 1, body: HOSTILE_BODY });
  await h.sync(); // 2: failed, a note full of control characters
  await h.sync(); // 3: complete, no note
  await h.sync({ customerId: oneCustomer }); // 4: one customer, incomplete on purpose
  env = { DATABASE_URL: h.db.url, SYNC_CRON: "30 2 * * *", SYNC_TIMEZONE: "UTC" };
});

afterAll(async () => {
  await h.close();
});

describe("elements-sync status in 120 columns", () => {
  it("fits every line into 120 columns, each note on a line under its run", async () => {
    const result = await runCli(["status"], env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(longestLine(result.stdout)).toBeLessThanOrEqual(120);
    const [titles, ...lines] = tableLines(result.stdout);
    expect(titles?.split(/\s{2,}/)).toEqual([
      "run",
      "started (UTC)",
      "duration",
      "outcome",
      "trigger",
      "seen",
      "added",
      "removed",
      "restored",
      "changes",
    ]);
    const runs = lines.filter((line) => /^ *\d+ {2}/.test(line)).map((line) => line.trim());
    expect(runs.map((run) => run.split(/\s{2,}/).filter((_, column) => column !== 2))).toEqual([
      ["4", expect.stringMatching(DATE_TIME), "incomplete", "customer", "1", "0", "0", "0", "0"],
      ["3", expect.stringMatching(DATE_TIME), "complete", "on demand", "12", "12", "0", "0", "0"],
      ["2", expect.stringMatching(DATE_TIME), "failed", "on demand", "0", "0", "0", "0", "0"],
      ["1", expect.stringMatching(DATE_TIME), "failed", "on demand", "0", "0", "0", "0", "0"],
    ]);
    // Notes start under "started (UTC)"; the complete run has none.
    const indent = " ".repeat(titles?.indexOf("started") ?? 0);
    const notes = lines.filter((line) => !/^ *\d+ {2}/.test(line) && !isResourceLine(line));
    expect(notes).toEqual([
      `${indent}single-customer run (${oneCustomer})`,
      expect.stringMatching(/…$/) as string,
      expect.stringMatching(/…$/) as string,
    ]);
    expect(result.stdout.replaceAll("\n", "")).not.toMatch(/[\p{Cc}\p{Bidi_Control}]/u);
  });

  it("cuts a note too long for its line at the margin and says how to see it whole", async () => {
    const result = await runCli(["status"], env);
    const lines = tableLines(result.stdout);
    const cut = lines.filter((line) => line.endsWith("…"));
    const cutNotes = cut.filter((line) => !isResourceLine(line));
    expect(cutNotes).toHaveLength(2);
    for (const line of cut) expect(line).toHaveLength(120);
    for (const line of cutNotes) {
      expect(PERMISSION.startsWith(line.trim().slice(0, -1))).toBe(true);
    }
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe(
      `${cut.length} notes were cut to fit 120 columns; add --wide (or use --json) to see them whole.`,
    );
  });

  it("adds no hint when no note had to be cut", async () => {
    const result = await runCli(["status", "--runs", "2"], env);
    expect(result.code).toBe(0);
    expect(tableLines(result.stdout).filter((line) => !isResourceLine(line))).toHaveLength(
      1 + 2 + 1,
    );
    expect(result.stdout).not.toContain("…");
    expect(result.stdout).not.toContain("cut to fit");
  });

  it("prints every column and every note whole with --wide, control characters escaped", async () => {
    const result = await runCli(["status", "--wide"], env);
    expect(result.code).toBe(0);
    const [titles, ...rows] = tableLines(result.stdout);
    expect(titles?.split(/\s{2,}/)).toEqual([
      "run",
      "started (UTC)",
      "duration",
      "status",
      "trigger",
      "complete",
      "seen",
      "added",
      "removed",
      "restored",
      "status changes",
      "note",
      "resources",
    ]);
    expect(rows).toHaveLength(4);
    expect(result.stdout).not.toContain("…");
    expect(result.stdout).not.toContain("cut to fit");
    const cells = rows.map((row) => row.trim().split(/\s{2,}/));
    expect(cells[0]?.[4]).toBe(`customer ${oneCustomer}`);
    expect(cells[2]?.[11]).toBe(
      `${PERMISSION} (denied by policy\\n\\tcall \\x1b[31msupport\\x1b[0m \\u202eevil).`,
    );
    expect(cells[3]?.[11]?.startsWith(`${PERMISSION} ({`)).toBe(true);
    expect(result.stdout.replaceAll("\n", "")).not.toMatch(/[\p{Cc}\p{Bidi_Control}]/u);
  });

  it("keeps the note's characters exact in --json", async () => {
    const result = await runCli(["status", "--json"], env);
    const { runs } = JSON.parse(result.stdout) as { runs: { id: number; error: string }[] };
    expect(runs.find((run) => run.id === 2)?.error).toBe(`${PERMISSION} (${HOSTILE_BODY}).`);
  });

  it("refuses --wide with --json, which has every field whole anyway", async () => {
    const result = await runCli(["status", "--wide", "--json"], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual([
      "elements-sync status: usage: --wide is for the table and --json has every field whole: give one. Run `elements-sync help status` for its options.",
    ]);
  });
});

describe("elements-sync status, each run's resources", () => {
  const SKIPPED =
    "the app registration lacks elements.license.read.all: grant it under Elements > API app registration to sync subscriptions";
  const PARTIAL = "the job lookups of 2 customers failed (404 for c-1, 503 for c-2)";

  beforeAll(async () => {
    // As this version records them: run 3 got everything but subscriptions, with 2 failed job
    // lookups; run 2 failed fetching customers. Run 4 stands for a run from before the
    // version that records resources: none.
    await recordResources(h.db, 3, [
      { resource: "customers", outcome: "complete", requests: 2, records: 12 },
      { resource: "services", outcome: "skipped", reason: SKIPPED, requests: 1, records: 0 },
      { resource: "jobs", outcome: "partial", reason: PARTIAL, requests: 14, records: 40 },
    ]);
    await recordResources(h.db, 2, [
      {
        resource: "customers",
        outcome: "partial",
        reason: "403",
        requests: 1,
        records: 0,
        rejected: 1,
      },
    ]);
    await h.db.query("DELETE FROM sync_run_resources WHERE run_id IN (1, 4)");
  });

  const RUN_3 =
    `customers complete: 12 records, 2 requests; services skipped: 0 records, 1 request (${SKIPPED}); ` +
    `jobs partial: 40 records, 14 requests (${PARTIAL})`;

  it("puts them on a line under the run, cut at 120 columns; nothing for a run without them", async () => {
    const result = await runCli(["status"], env);
    expect(result.code).toBe(0);
    expect(longestLine(result.stdout)).toBeLessThanOrEqual(120);
    const lines = tableLines(result.stdout);
    const runLine = (id: number) =>
      lines.findIndex((line) => new RegExp(`^ *${id} {2}`).test(line));
    // Run 3 has no note: its resources come right under it.
    const under3 = lines[runLine(3) + 1] ?? "";
    expect(under3).toHaveLength(120);
    expect(RUN_3.startsWith(under3.trim().slice(0, -1))).toBe(true);
    expect(lines.slice(runLine(2) + 1, runLine(1))).toEqual([
      expect.stringMatching(/…$/) as string,
      expect.stringMatching(
        /^ +customers partial: 0 records, 1 request, 1 rejected \(403\)$/,
      ) as string,
    ]);
    // Run 4 (single customer) has its note and no resources; run 1 its note alone.
    expect(lines.slice(runLine(4) + 1, runLine(3))).toEqual([
      expect.stringMatching(/^ +single-customer run/) as string,
    ]);
    expect(lines.filter(isResourceLine)).toHaveLength(2);
  });

  it("shows them whole with --wide and as a list in --json", async () => {
    const wide = await runCli(["status", "--wide"], env);
    const rows = tableLines(wide.stdout).slice(1);
    expect(rows[1]?.endsWith(`  ${RUN_3}`)).toBe(true);
    expect(rows[0]).not.toContain("customers complete");

    const json = await runCli(["status", "--json"], env);
    const { runs } = JSON.parse(json.stdout) as {
      runs: { id: number; resources: Record<string, unknown>[] }[];
    };
    expect(runs.map((run) => [run.id, run.resources.length])).toEqual([
      [4, 0],
      [3, 3],
      [2, 1],
      [1, 0],
    ]);
    expect(runs[1]?.resources[1]).toEqual({
      resource: "services",
      outcome: "skipped",
      reason: SKIPPED,
      requests: 1,
      records: 0,
      rejected: 0,
    });
  });

  it("shows them in report runs, in a column of their own", async () => {
    const result = await runCli(["report", "runs", "--time-zone", "UTC"], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    const header = (lines[0] ?? "").split(/\s{2,}/);
    expect(header.slice(-2)).toEqual(["resources", "note"]);
    const run3 = lines.find((line) => /^ *3 {2}/.test(line)) ?? "";
    expect(run3).toContain(RUN_3);
    const run4 = lines.find((line) => /^ *4 {2}/.test(line)) ?? "";
    expect(run4).not.toContain("customers ");
  });
});
