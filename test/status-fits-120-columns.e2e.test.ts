// `elements-sync status` as people read it in a terminal: the table fits 120 columns whatever
// the runs hold (a long error, a one-customer run, an error body full of control characters),
// each note sits on a line under its run, one too long ends in "…" with a hint how to see it
// whole, and `--wide` shows every column and every note whole.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";

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
    expect(lines.filter((line) => !/^ *\d+ {2}/.test(line))).toEqual([
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
    expect(cut).toHaveLength(2);
    for (const line of cut) {
      expect(line).toHaveLength(120);
      expect(PERMISSION.startsWith(line.trim().slice(0, -1))).toBe(true);
    }
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe(
      "2 notes were cut to fit 120 columns; add --wide (or use --json) to see them whole.",
    );
  });

  it("adds no hint when no note had to be cut", async () => {
    const result = await runCli(["status", "--runs", "2"], env);
    expect(result.code).toBe(0);
    expect(tableLines(result.stdout)).toHaveLength(1 + 2 + 1);
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
