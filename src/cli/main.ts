// `elements-sync <command>`: dispatches to the command (or to help or the version), runs it,
// maps errors to exit codes (0 ok, 1 the run or operation failed, 2 bad usage or configuration).
// Only the command table is imported up front: a command's module (and with it Prisma, the
// client, the sync) is loaded when it runs, so help and --version answer at once.
import { ConfigError, UsageError } from "../errors.ts";
import type { Command } from "./command.ts";
import { COMMANDS } from "./commands.ts";
import { EXIT, processIo, type Io } from "./io.ts";
import { ArgumentError, parseCommandLine, type CommandLine } from "./parse.ts";
import { didYouMean } from "../suggest.ts";
import { versionLine } from "./version.ts";

/** The options `elements-sync` takes without a command. */
const TOP_LEVEL_OPTIONS = ["--help", "-h", "--version", "-V"];

function overview(): string {
  const lines = Object.entries(COMMANDS).map(
    ([name, command]) => `  ${name.padEnd(11)}${command.summary}`,
  );
  return [
    "Usage: elements-sync <command> [options]",
    "       elements-sync help <command>",
    "       elements-sync --version",
    "",
    "Copies AvePoint Elements customers, tenants and job-status history into PostgreSQL.",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `elements-sync help <command>` (or `elements-sync <command> --help`) for a command's",
    "options. Configuration is read from the environment and from a .env file in the current",
    "directory (see README.md).",
  ].join("\n");
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(overview());
    return EXIT.usage;
  }
  if (name === "--version" || name === "-V") return printVersion(rest, io);
  if (name === "help" || name === "--help" || name === "-h") return printHelp(rest, io);
  const command = COMMANDS[name];
  if (!command) {
    const option = name.startsWith("-");
    // Options first for a name with dashes, so "--hlep" is taken for "--help", not "help".
    const candidates = option
      ? [...TOP_LEVEL_OPTIONS, ...Object.keys(COMMANDS), "help"]
      : [...Object.keys(COMMANDS), "help", ...TOP_LEVEL_OPTIONS];
    io.err(
      `elements-sync: unknown ${option ? "option" : "command"} "${name}".${didYouMean(name, candidates)} Run \`elements-sync --help\` for the commands.`,
    );
    return EXIT.usage;
  }
  return runCommand(name, command, rest, io);
}

function printVersion(rest: readonly string[], io: Io): number {
  if (rest.length > 0) {
    io.err(`elements-sync: --version takes no arguments; got "${rest.join(" ")}".`);
    return EXIT.usage;
  }
  io.out(versionLine());
  return EXIT.ok;
}

/** `help` alone is the overview; `help <command> …` is `<command> … --help`. */
async function printHelp(rest: readonly string[], io: Io): Promise<number> {
  const [name, ...more] = rest;
  if (name === undefined) {
    io.out(overview());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(
      `elements-sync help: unknown command "${name}".${didYouMean(name, Object.keys(COMMANDS))} Run \`elements-sync --help\` for the commands.`,
    );
    return EXIT.usage;
  }
  return runCommand(name, command, ["--help", ...more], io);
}

async function runCommand(
  name: string,
  command: Command,
  args: readonly string[],
  io: Io,
): Promise<number> {
  let values: CommandLine["values"];
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandLine(command, args));
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    io.err(
      `elements-sync ${name}: ${error.message} Run \`elements-sync help ${name}\` for its options.`,
    );
    return EXIT.usage;
  }
  if (values.help) {
    io.out(command.usage);
    return EXIT.ok;
  }
  try {
    return await (await command.load()).run(values, io, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(
        `elements-sync ${name}: usage: ${error.message} Run \`elements-sync help ${name}\` for its options.`,
      );
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      for (const problem of error.problems) {
        io.err(`elements-sync ${name}: configuration error: ${problem}`);
      }
      return EXIT.usage;
    }
    const { describeFailure } = await import("./failure.ts");
    io.err(`elements-sync ${name}: ${describeFailure(error, process.env)}`);
    return EXIT.failed;
  }
}
