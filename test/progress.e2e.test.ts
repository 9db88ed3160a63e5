// Progress of a manual `sync`: shown on a terminal, never in a pipe or under CI.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProgressDisplay, formatProgress } from "../src/cli/progress.ts";
import { resolveLogFormat, SharedStderr } from "../src/logger.ts";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { BIN, runCli, simulatorEnv } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { sampleCustomers } from "./support/harness.ts";

const update = (pagesFetched: number, pagesPlanned: number, rejectedRecords = 0) => ({
  runId: 7,
  pagesFetched,
  pagesPlanned,
  apiTotalCount: pagesPlanned * 100,
  rejectedRecords,
});

describe("progress line", () => {
  it("shows pages of planned, rate and time left", () => {
    expect(formatProgress(update(10, 40), 5_000)).toBe(
      "run 7: page 10/40 (25%) · 2.0 pages/s · ETA 15 s",
    );
    expect(formatProgress(update(10, 2000, 3), 5_000)).toBe(
      "run 7: page 10/2000 (0%) · 2.0 pages/s · ETA 16 min 35 s · 3 rejected",
    );
    expect(formatProgress(update(1, 1), 0)).toBe("run 7: page 1/1 (100%) · 0.0 pages/s");
  });

  it("draws on a terminal only, at most every 100 ms, and clears itself", () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (text: string) => written.push(text) };
    let now = 0;
    const display = createProgressDisplay(tty, {}, () => now);
    now = 50;
    display?.update(update(1, 3));
    now = 80;
    display?.update(update(2, 3)); // too soon: skipped
    now = 90;
    display?.update(update(3, 3)); // the last page always shows
    display?.finish();
    expect(written).toEqual([
      "\r\x1b[2Krun 7: page 1/3 (33%) · 20.0 pages/s · ETA 1 s",
      "\r\x1b[2Krun 7: page 3/3 (100%) · 33.3 pages/s · ETA 0 s",
      "\r\x1b[2K",
    ]);
    expect(createProgressDisplay({ isTTY: false, write: () => true }, {})).toBeUndefined();
    expect(createProgressDisplay(tty, { CI: "true" })).toBeUndefined();
  });

  it("steps aside for each log line: cleared before it, redrawn after, gone once finished", () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (text: string) => written.push(text) };
    const stderr = new SharedStderr();
    const log = stderr.around({ write: (text: string) => written.push(text) });
    log.write("before any progress\n");
    const display = createProgressDisplay(tty, {}, () => 0, stderr);
    display?.update(update(1, 3));
    log.write("a log line\n");
    display?.finish();
    log.write("after\n");
    expect(written).toEqual([
      "before any progress\n",
      "\r\x1b[2Krun 7: page 1/3 (33%) · 0.0 pages/s",
      "\r\x1b[2K",
      "a log line\n",
      "\r\x1b[2Krun 7: page 1/3 (33%) · 0.0 pages/s",
      "\r\x1b[2K",
      "after\n",
    ]);
  });

  it("logs readable lines on a terminal, JSON elsewhere or when LOG_FORMAT says", () => {
    expect(resolveLogFormat("auto", true)).toBe("pretty");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(resolveLogFormat("pretty", false)).toBe("pretty");
  });

  it("is not drawn where it cannot be redrawn in place", () => {
    const tty = { isTTY: true, write: () => true };
    expect(createProgressDisplay(tty, { CI: "true" })).toBeUndefined();
    expect(createProgressDisplay(tty, { TERM: "dumb" })).toBeUndefined();
  });
});

describe("elements-sync sync progress", () => {
  let dir: string;
  let simulator: Simulator;
  let db: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "elements-sync-progress-"));
    const dataFile = join(dir, "customers.json");
    await writeCustomersFile(dataFile, sampleCustomers(30));
    simulator = await startSimulator({ dataFile, latencyMs: 20 });
    db = await createTestDatabase("es_progress");
    env = {
      PATH: process.env.PATH ?? "",
      TERM: "xterm",
      ...simulatorEnv(db.url, simulator.url),
      ELEMENTS_PAGE_SIZE: "5",
      LOG_LEVEL: "warn",
    };
  });

  afterAll(async () => {
    await simulator.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `sync` on a pseudo-terminal (util-linux `script`), returning what the terminal showed. */
  function syncOnTerminal(extra: Record<string, string> = {}): Promise<string> {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} sync`;
    const child = spawn("script", ["-qefc", command, "/dev/null"], {
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    return new Promise((resolve) => {
      child.on("close", () => {
        resolve(output);
      });
    });
  }

  it("shows progress on a terminal, then the summary", async () => {
    // Debug lines come with every page, between redraws of the progress line.
    const output = await syncOnTerminal({ LOG_LEVEL: "debug" });
    expect(output).toMatch(/run 1: page 6\/6 \(100%\) · [\d.]+ pages\/s · ETA 0 s/);
    expect(output).toMatch(/run 1 succeeded in [\d.]+ s: 30 customers/);
    // Readable log lines by default on a terminal, none of them JSON.
    // eslint-disable-next-line no-control-regex -- the colours of the terminal's lines
    expect(output.replace(/\x1b\[[\d;]*m/g, "")).toMatch(/\] DEBUG: page staged/);
    expect(output).not.toContain('{"level"');
    // Nothing is ever written onto the progress line: what follows it is a clear or an end.
    const pieces = output.split("\r\x1b[2K");
    const drawn = pieces.filter((piece) => piece.startsWith("run 1: page "));
    expect(drawn.length).toBeGreaterThan(1);
    for (const piece of drawn) {
      expect(piece).toMatch(/^run 1: page \d+\/6 \(\d+%\) · [\d.]+ pages\/s( · ETA \d+ s)?$/);
    }
  });

  it("logs human-readable lines with LOG_FORMAT=pretty", async () => {
    const pretty = await runCli(["migrate"], { ...env, LOG_LEVEL: "info", LOG_FORMAT: "pretty" });
    expect(pretty.code).toBe(0);
    expect(pretty.stderr).toMatch(
      /^\[[\d-]+ [\d:.]+\] INFO: database (schema is up to date|migrated)/m,
    );
    expect(pretty.stderr).not.toContain('{"level"');
    const bad = await runCli(["migrate"], { ...env, LOG_FORMAT: "xml" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'LOG_FORMAT must be "auto" (the default: "pretty" on a terminal, else "json"), "json" or "pretty"; got "xml"',
    );
  });

  it("shows none under CI or in a pipe", async () => {
    const underCi = await syncOnTerminal({ CI: "true" });
    expect(underCi).toMatch(/run 2 succeeded/);
    expect(underCi).not.toContain("pages/s");
    const piped = await runCli(["sync", "--no-migrate"], env);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain("pages/s");
  });
});
