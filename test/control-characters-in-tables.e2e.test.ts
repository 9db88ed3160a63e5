// Names from the API as `report changes` shows them: a newline, a tab, a terminal escape or a
// right-to-left override in an organization stays inside its cell, escaped, in the table, and
// reaches CSV and JSON exactly as the API sent it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";

const NAMES = [
  ["Line\nBreak Ltd", "Line\\nBreak Ltd"],
  ["Tab\tSeparated", "Tab\\tSeparated"],
  ["Carriage\rReturn", "Carriage\\rReturn"],
  ["\u001b[2J\u001b[HCleared Screen", "\\x1b[2J\\x1b[HCleared Screen"],
  ["\u202eLtd Reversed", "\\u202eLtd Reversed"],
  ["Plain Partner", "Plain Partner"],
] as const;

let h: Harness;
let env: Record<string, string>;
const customers = sampleCustomers(NAMES.length).map((customer, index) => ({
  ...customer,
  organization: NAMES[index]?.[0] ?? "",
}));

beforeAll(async () => {
  h = await createHarness({ customers });
  await h.sync();
  env = { DATABASE_URL: h.db.url };
});

afterAll(async () => {
  await h.close();
});

// The customers' appearances: one row each (their tenants' rows repeat the organization).
const report = (...args: string[]) =>
  runCli(
    ["report", "changes", "--since", "30d", "--kind", "added", "--time-zone", "UTC", ...args],
    env,
  );

describe("report changes with control characters in names", () => {
  it("keeps one line per change, the names escaped and the columns lined up", async () => {
    const result = await report();
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2 + NAMES.length);
    expect(result.stdout.replaceAll("\n", "")).not.toMatch(/[\p{Cc}\p{Bidi_Control}]/u);
    // Every row has the customer id, the last column, at the header's offset.
    const idColumn = lines[0]?.indexOf("customer id") ?? -1;
    expect(idColumn).toBeGreaterThan(0);
    for (const customer of customers) {
      const row = lines.find((line) => line.endsWith(customer.id)) ?? "";
      expect(row.length - customer.id.length).toBe(idColumn);
    }
    const organizationColumn = lines[0]?.indexOf("organization") ?? -1;
    const shown = lines.slice(2).map((line) => line.slice(organizationColumn).split("  ")[0]);
    expect(shown.sort()).toEqual(NAMES.map(([, escaped]) => escaped).sort());
  });

  it("gives CSV and JSON the names exactly", async () => {
    const json = await report("--format", "json");
    const rows = JSON.parse(json.stdout) as { organization: string }[];
    expect(rows.map((row) => row.organization).sort()).toEqual(NAMES.map(([raw]) => raw).sort());
    const csv = await report("--format", "csv");
    expect(csv.code).toBe(0);
    for (const [raw] of NAMES) {
      expect(csv.stdout).toContain(/[",\r\n]/.test(raw) ? `"${raw}"` : raw);
    }
  });
});
