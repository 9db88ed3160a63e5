// The CLI as a real child process (bin/elements-sync.js), started in a fresh directory (so no
// stray .env is read) with exactly `env` plus PATH. runCli runs a command to its end;
// spawnCli is for long-running ones such as `start`: output is collected as it comes, JSON
// log lines parsed, and the test can wait for a line, send signals and time the exit.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/elements-sync.js", import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the process exited. */
  at: number;
}

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** stderr's JSON log lines, parsed (other lines are skipped). */
  logs(): Record<string, unknown>[];
  exited: Promise<Exit>;
}

export interface CliInput {
  /** Written to the command's standard input, which is then closed. */
  stdin?: string;
  /** Files written into its working directory first, e.g. a `.env`. */
  files?: Record<string, string>;
}

export function spawnCli(
  args: string[],
  env: Record<string, string>,
  input: CliInput = {},
): CliProcess {
  const cwd = mkdtempSync(join(tmpdir(), "elements-sync-cli-"));
  for (const [name, content] of Object.entries(input.files ?? {})) {
    writeFileSync(join(cwd, name), content);
  }
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: [input.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input.stdin !== undefined) child.stdin?.end(input.stdin);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, signal, at: performance.now() });
    });
  });
  if (child.pid === undefined) throw new Error("could not start the CLI");
  return {
    child,
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    logs: () => parseLogLines(stderr),
    exited,
  };
}

/** Runs the CLI to its end. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  input: CliInput = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const process = spawnCli(args, env, input);
  const { code } = await process.exited;
  return { code, stdout: process.stdout(), stderr: process.stderr() };
}

export function parseLogLines(text: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return lines;
}

/** What every command says, with exit 1, of a database that was never migrated. */
export const NOT_MIGRATED =
  "the database has not been migrated: run `npx elements-sync migrate` (or a sync without --no-migrate) first.";

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The configuration that points the CLI at `databaseUrl` and a simulator with its demo login. */
export function simulatorEnv(databaseUrl: string, simulatorUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    ELEMENTS_API_URL: simulatorUrl,
    ELEMENTS_IDENTITY_URL: simulatorUrl,
    ELEMENTS_CLIENT_ID: "demo-client",
    ELEMENTS_CLIENT_SECRET: "demo-secret",
  };
}
