// A database that was never migrated: every command that reads it says the same thing and
// exits 1, whatever it is; nothing is created in it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOT_MIGRATED, runCli, simulatorEnv } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

let empty: TestDatabase;
beforeAll(async () => {
  empty = await createTestDatabase("es_unmigrated");
});
afterAll(async () => {
  await empty.drop();
});

describe("an unmigrated database", () => {
  it.each([
    [["status"]],
    [["report", "runs"]],
    [["report", "changes"]],
    [["bi-access", "reader"]],
    [["sync", "--no-migrate"]],
  ])("%j: one message naming the fix, exit 1", async (args) => {
    // The Elements settings point nowhere: the check comes before any request.
    const env = simulatorEnv(empty.url, "http://127.0.0.1:9");
    const result = await runCli(args, env, { stdin: "a-password\n" });
    expect(
      result.stderr
        .trim()
        .split("\n")
        .filter((line) => !line.startsWith("{")),
    ).toEqual([`elements-sync ${args[0] ?? ""}: ${NOT_MIGRATED}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const tables = await empty.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
    expect(tables).toEqual([]);
  });
});

describe("a command line that does not say what to do", () => {
  it.each([
    [["report"], "say which report: changes, trend, runs."],
    [
      ["report", "chnages"],
      'unknown report "chnages". Did you mean "changes"? The reports are changes, trend, runs.',
    ],
  ])("%j is a usage error, exit 2", async (args, message) => {
    const result = await runCli(args, { DATABASE_URL: empty.url });
    expect(result.stderr).toBe(
      `elements-sync report: usage: ${message} Run \`elements-sync help report\` for its options.\n`,
    );
    expect(result.stderr).not.toContain("configuration");
    expect(result.code).toBe(2);
  });
});
