// `elements-sync <command>`: parses the command line, runs the command, maps errors to
// exit codes (0 ok, 1 the run or operation failed, 2 bad usage or configuration).
import { parseArgs } from "node:util";
import { ConfigError, errorMessage } from "../errors.ts";
import type { Command } from "./command.ts";
import { describeFailure } from "./failure.ts";
import { demoCommand } from "./demo.ts";
import { biAccessCommand } from "./bi-access.ts";
import { EXIT, processIo, type Io } from "./io.ts";
import { migrateCommand } from "./migrate.ts";
import { reportCommand } from "./report.ts";
import { simulateCommand } from "./simulate.ts";
import { startCommand } from "./start.ts";
import { statusCommand } from "./status.ts";
import { syncCommand } from "./sync.ts";

const COMMANDS: Record<string, Command> = {
  sync: syncCommand,
  start: startCommand,
  status: statusCommand,
  migrate: migrateCommand,
  simulate: simulateCommand,
  demo: demoCommand,
  report: reportCommand,
  "bi-access": biAccessCommand,
};

function overview(): string {
  const lines = Object.entries(COMMANDS).map(
    ([name, command]) => `  ${name.padEnd(11)}${command.summary}`,
  );
  return [
    "Usage: elements-sync <command> [options]",
    "",
    "Copies AvePoint Elements customers, tenants and job-status history into PostgreSQL.",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `elements-sync <command> --help` for a command's options. Configuration is read from",
    "the environment and from a .env file in the current directory (see README.md).",
  ].join("\n");
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(overview());
    return EXIT.usage;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(overview());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`elements-sync: unknown command "${name}".\n\n${overview()}`);
    return EXIT.usage;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowNegative: true,
      allowPositionals: command.positionals === true,
      strict: true,
    }));
  } catch (error) {
    io.err(`elements-sync ${name}: ${errorMessage(error)}\n\n${command.usage}`);
    return EXIT.usage;
  }
  if (values.help) {
    io.out(command.usage);
    return EXIT.ok;
  }
  try {
    return await command.run(values, io, positionals);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) {
        io.err(`elements-sync ${name}: configuration error: ${problem}`);
      }
      return EXIT.usage;
    }
    io.err(`elements-sync ${name}: ${describeFailure(error, process.env)}`);
    return EXIT.failed;
  }
}
