// What every command is to main.ts: its help texts and options (commands.ts, loaded for
// help), and the module that runs it (loaded only when it runs). A module of its own so that
// commands and main.ts can both import it without importing each other.
import type { ParseArgsConfig } from "node:util";
import type { Io } from "./io.ts";

/** Parsed options: a string, a flag, or the strings of an option declared `multiple`. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Accepts arguments that are not options (a subcommand, a name); passed to run in order. */
  positionals?: boolean;
  /** Imports the module that runs the command: only once it is to run, not for its help. */
  load(): Promise<CommandRunner>;
}

/** What a command's module exports: how it runs. */
export interface CommandRunner {
  run(values: OptionValues, io: Io, positionals: string[]): Promise<number>;
}
