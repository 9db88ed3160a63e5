// A mistyped command, option or value through the real CLI: exit 2, nothing on stdout, one
// line on stderr naming what is wrong and, when something is close, what was probably meant.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../src/migrations.ts";
import { runCli } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

async function expectOneLine(args: string[], line: string, env: Record<string, string> = {}) {
  const result = await runCli(args, env);
  expect(result.stdout).toBe("");
  expect(result.stderr).toBe(`${line}\n`);
  expect(result.code).toBe(2);
}

describe("a mistyped command or option", () => {
  it.concurrent.each([
    [["snyc"], 'elements-sync: unknown command "snyc". Did you mean "sync"?'],
    [["stauts"], 'elements-sync: unknown command "stauts". Did you mean "status"?'],
    [["sta"], 'elements-sync: unknown command "sta". Did you mean "start" or "status"?'],
    [["version"], 'elements-sync: unknown command "version". Did you mean "--version"?'],
    [["--verison"], 'elements-sync: unknown option "--verison". Did you mean "--version"?'],
    [["frobnicate"], 'elements-sync: unknown command "frobnicate".'],
  ])("%j", async (args, message) => {
    await expectOneLine(args, `${message} Run \`elements-sync --help\` for the commands.`);
  });

  it.concurrent.each([
    [
      ["sync", "--customr", "42"],
      'elements-sync sync: unknown option "--customr". Did you mean "--customer"?',
    ],
    [
      ["sync", "--no-migrat"],
      'elements-sync sync: unknown option "--no-migrat". Did you mean "--no-migrate"?',
    ],
    [
      ["sync", "--allow-mass-removals"],
      'elements-sync sync: unknown option "--allow-mass-removals". Did you mean "--allow-mass-removal"?',
    ],
    [["status", "--jsno"], 'elements-sync status: unknown option "--jsno". Did you mean "--json"?'],
    [
      ["simulate", "--prot", "8080"],
      'elements-sync simulate: unknown option "--prot". Did you mean "--port"?',
    ],
    [
      ["report", "runs", "--limt", "5"],
      'elements-sync report: unknown option "--limt". Did you mean "--limit"?',
    ],
    [["sync", "-x"], 'elements-sync sync: unknown option "-x".'],
    [
      ["sync", "customer", "42"],
      'elements-sync sync: unexpected argument "customer"; this command takes options only. Did you mean "--customer"?',
    ],
    [["sync", "--customer"], 'elements-sync sync: option "--customer" needs a value.'],
    [
      ["sync", "--customer", "--no-migrate"],
      'elements-sync sync: option "--customer" needs a value, and "--no-migrate" looks like an option; write --customer=--no-migrate if it is the value.',
    ],
    [["status", "--json=yes"], 'elements-sync status: option "--json" takes no value; got "yes".'],
  ])("%j", async (args, message) => {
    await expectOneLine(
      args,
      `${message} Run \`elements-sync help ${args[0] ?? ""}\` for its options.`,
    );
  });
});

const LABELS =
  '"N/A", "Working", "Failed", "Waiting for Configuration", "Multiple Issues Found", "Finished with Exception", "No Backup Update"';

describe("a mistyped report or value", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase("es_did_you_mean");
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    await migrate(pool);
    await pool.end();
  });

  afterAll(async () => {
    await db.drop();
  });

  it.concurrent.each([
    [
      ["report", "chnages"],
      'unknown report "chnages". Did you mean "changes"? The reports are changes, trend, runs.',
    ],
    [
      ["report", "trned"],
      'unknown report "trned". Did you mean "trend"? The reports are changes, trend, runs.',
    ],
    [
      ["report", "trend", "--format", "tabel"],
      '--format must be table, csv or json; got "tabel". Did you mean "table"?',
    ],
    [
      ["report", "changes", "--status", "faild"],
      `--status must be a job status code or one of ${LABELS}; got "faild". Did you mean "failed"?`,
    ],
    [
      ["report", "changes", "--status", "no-backup-updat"],
      `--status must be a job status code or one of ${LABELS}; got "no-backup-updat". Did you mean "no-backup-update"?`,
    ],
  ])("%j", async (args, message) => {
    await expectOneLine(
      args,
      `elements-sync report: usage: ${message} Run \`elements-sync help report\` for its options.`,
      {
        DATABASE_URL: db.url,
      },
    );
  });
});
