// `elements-sync report … --format csv|json` as spreadsheets and scripts receive it: names
// that a spreadsheet would run as formulas, opened with Python's csv module (a standard
// parser, not ours); Excel's byte-order mark; timestamps to the millisecond; and a run whose
// removals the mass-removal guard held back, in every format.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANGE_COLUMNS, RUN_COLUMNS } from "../src/reporting/reports.ts";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { runCli } from "./support/cli.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";

const PYTHON = process.env.ODBC_PYTHON ?? "/usr/bin/python3";

/** Organization names OWASP's CSV-injection guidance lists, and two harmless ones. */
const NAMES = {
  hyperlink: '=HYPERLINK("http://evil","x")',
  plus: "+SUM(1,2)",
  minus: "-2+3",
  at: "@cmd|' /C calc'!A0",
  tab: "\tTabbed",
  carriageReturn: "\rReturned",
  plain: "Plain, Inc.",
  apostrophe: "'Quoted' & Co",
} as const;

let h: Harness;
let customers: SimulatedCustomer[];
let dir: string;
let env: Record<string, string>;

/** `text` parsed by Python's csv module, decoded as `encoding`. */
async function parseCsv(text: string | Buffer, encoding = "utf-8"): Promise<string[][]> {
  const file = join(dir, "export.csv");
  writeFileSync(file, text);
  const { stdout } = await promisify(execFile)(PYTHON, [
    "-c",
    "import csv, json, sys\n" +
      "with open(sys.argv[1], newline='', encoding=sys.argv[2]) as f:\n" +
      "    print(json.dumps(list(csv.reader(f))))",
    file,
    encoding,
  ]);
  return JSON.parse(stdout) as string[][];
}

const report = (...args: string[]) => runCli(["report", ...args, "--time-zone", "UTC"], env);

beforeAll(async () => {
  customers = sampleCustomers(Object.keys(NAMES).length + 2);
  Object.values(NAMES).forEach((name, index) => {
    const customer = customers[index];
    if (customer) customer.organization = name;
  });
  h = await createHarness({ customers });
  expect(await h.sync()).toMatchObject({ status: "succeeded", complete: true });
  // Most customers gone at once: the mass-removal guard holds their removals back.
  await h.serve(customers.slice(0, 3));
  expect(await h.sync()).toMatchObject({ status: "succeeded", removalsWithheld: 7 });
  env = { DATABASE_URL: h.db.url };
  dir = mkdtempSync(join(tmpdir(), "elements-sync-export-"));
});

afterAll(async () => {
  await (h as Harness | undefined)?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("report --format csv", () => {
  it("neutralizes cells a spreadsheet would run as a formula, and leaves the rest alone", async () => {
    const result = await report("changes", "--since", "30d", "--format", "csv");
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = await parseCsv(result.stdout);
    expect(header).toEqual(CHANGE_COLUMNS);
    const organization = CHANGE_COLUMNS.indexOf("organization");
    const neutralized: Record<string, string> = {
      [NAMES.hyperlink]: `'${NAMES.hyperlink}`,
      [NAMES.plus]: `'${NAMES.plus}`,
      [NAMES.minus]: `'${NAMES.minus}`,
      [NAMES.at]: `'${NAMES.at}`,
      [NAMES.tab]: `'${NAMES.tab}`,
      [NAMES.carriageReturn]: `'${NAMES.carriageReturn}`,
    };
    // One customer's appearance per customer (their tenants' rows repeat the organization).
    const kind = CHANGE_COLUMNS.indexOf("kind");
    const appeared = rows.filter((row) => row[kind] === "added");
    expect(appeared.map((row) => row[organization]).sort()).toEqual(
      customers.map((c) => neutralized[c.organization] ?? c.organization).sort(),
    );
    // No text cell of any column begins a formula.
    expect(rows.flat().filter((cell) => /^[=+\-@\t\r]/.test(cell))).toEqual([]);
  });

  it("keeps cells exactly as they are with --raw", async () => {
    const result = await report("changes", "--since", "30d", "--format", "csv", "--raw");
    expect(result.code).toBe(0);
    const [header, ...rows] = await parseCsv(result.stdout);
    const organizations = rows.map((row) => row[(header ?? []).indexOf("organization")]);
    expect(organizations).toEqual(expect.arrayContaining(Object.values(NAMES)));
    const json = await report("changes", "--since", "30d", "--format", "json");
    const fromJson = (JSON.parse(json.stdout) as { organization: string }[]).map(
      (row) => row.organization,
    );
    expect(organizations).toEqual(fromJson);
  });

  it("starts with a UTF-8 byte-order mark for Excel with --excel, the same CSV after it", async () => {
    const excel = Buffer.from((await report("runs", "--excel")).stdout, "utf8");
    expect([...excel.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const plain = Buffer.from((await report("runs", "--format", "csv")).stdout, "utf8");
    expect(plain[0]).not.toBe(0xef);
    expect(excel.subarray(3).toString("utf8")).toBe(plain.toString("utf8"));
    expect(await parseCsv(excel, "utf-8-sig")).toEqual(await parseCsv(plain));
  });
});

describe("report timestamps", () => {
  it("keep milliseconds, as the database has them", async () => {
    const runs = JSON.parse((await report("runs", "--format", "json")).stdout) as {
      run_id: number;
      started_at: string;
      finished_at: string;
    }[];
    const stored = await h.db.query<{ id: number; started_at: string; finished_at: string }>(
      `SELECT id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') AS started_at,
              to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') AS finished_at
       FROM sync_runs ORDER BY id DESC`,
    );
    expect(
      runs.map(({ run_id, started_at, finished_at }) => ({ run_id, started_at, finished_at })),
    ).toEqual(
      stored.map(({ id, started_at, finished_at }) => ({ run_id: id, started_at, finished_at })),
    );
    for (const run of runs) expect(run.started_at).toMatch(/T\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
  });
});

describe("report runs", () => {
  const WARNING = /^mass-removal guard: the API no longer lists 7 of 10 present customers/;

  it("shows the removals the guard held back and its warning as JSON", async () => {
    const result = await report("runs", "--format", "json");
    const [guarded, first] = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(Object.keys(guarded ?? {})).toEqual(RUN_COLUMNS);
    expect(guarded).toMatchObject({
      run_id: 2,
      outcome: "complete",
      customers_removed: 0,
      removals_withheld: 7,
      warning: expect.stringMatching(WARNING) as unknown,
    });
    expect(first).toMatchObject({ run_id: 1, removals_withheld: 0, warning: null });
  });

  it("shows them as CSV", async () => {
    const [header = [], guarded = []] = await parseCsv(
      (await report("runs", "--format", "csv")).stdout,
    );
    expect(header).toEqual(RUN_COLUMNS);
    expect(guarded[header.indexOf("removals_withheld")]).toBe("7");
    expect(guarded[header.indexOf("warning")]).toMatch(WARNING);
  });

  it("shows them in the table for people", async () => {
    const lines = (await report("runs")).stdout.trimEnd().split("\n");
    const header = (lines[0] ?? "").split(/\s{2,}/);
    expect(header).toEqual([
      "run",
      "started",
      "seconds",
      "outcome",
      "customers",
      "added",
      "removed",
      "withheld",
      "restored",
      "changes",
      "rejected",
      "resources",
      "note",
    ]);
    const guarded = (lines[2] ?? "").trim().split(/\s{2,}/);
    expect(guarded.slice(0, 1).concat(guarded.slice(3, 8))).toEqual([
      "2",
      "complete",
      "3",
      "0",
      "0",
      "7",
    ]);
    // What it got of each resource (docs/reporting.md): the harness syncs customers alone,
    // the three left in one page.
    expect(guarded.at(-2)).toBe("customers complete: 3 records, 1 request");
    expect(guarded.at(-1)).toMatch(WARNING);
  });
});
