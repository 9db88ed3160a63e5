// The one option parser of every command: node:util parseArgs, strict, `--no-<flag>` for
// booleans. What it rejects comes back as one line that names the offending argument and,
// when one is close, the option that was probably meant.
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Command, OptionValues } from "./command.ts";
import { didYouMean } from "../suggest.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface CommandLine {
  values: OptionValues;
  positionals: string[];
}

/** The command line does not fit the command: exit 2 with this message. */
export class ArgumentError extends Error {
  override name = "ArgumentError";
}

export function parseCommandLine(command: Command, args: readonly string[]): CommandLine {
  const options: Options = { ...command.options, help: { type: "boolean", short: "h" } };
  const config = {
    args: [...args],
    options,
    allowNegative: true,
    allowPositionals: command.positionals === true,
  };
  try {
    const { values, positionals } = parseArgs({ ...config, strict: true });
    // Only string options are declared `multiple`, so an array holds strings only.
    return { values: values as OptionValues, positionals };
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const unknown = firstUnknownOption(config);
      throw new ArgumentError(`unknown option "${unknown}".${didYouMean(unknown, names(options))}`);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const argument = firstPositional(config);
      // `sync customer 42` for `sync --customer 42`: a word that is an option without its dashes.
      throw new ArgumentError(
        `unexpected argument "${argument}"; this command takes options only.${didYouMean(argument, names(options))}`,
      );
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new ArgumentError(badValue(config));
    throw error;
  }
}

type Config = Omit<ParseArgsConfig, "options"> & { options: Options };

/** The arguments as parseArgs reads them without refusing any: to find what it refused. */
function tokensOf(config: Config) {
  return parseArgs({ ...config, strict: false, allowPositionals: true, tokens: true }).tokens;
}

/** The first option the strict parse refused: `--customr`, `--no-customer`. */
function firstUnknownOption(config: Config): string {
  for (const token of tokensOf(config)) {
    if (token.kind !== "option") continue;
    const option = config.options[token.name];
    const negated = token.rawName.startsWith("--no-");
    if (option === undefined || (negated && option.type !== "boolean")) return token.rawName;
  }
  return "";
}

/**
 * The option parseArgs refused a value for: a string option without one (or followed by what
 * looks like another option), or a flag given one.
 */
function badValue(config: Config): string {
  for (const token of tokensOf(config)) {
    if (token.kind !== "option") continue;
    const type = config.options[token.name]?.type;
    if (type === "string" && token.value === undefined) {
      return `option "${token.rawName}" needs a value.`;
    }
    if (type === "string" && token.inlineValue === false && token.value.startsWith("-")) {
      return `option "${token.rawName}" needs a value, and "${token.value}" looks like an option; write ${token.rawName}=${token.value} if it is the value.`;
    }
    if (type === "boolean" && token.value !== undefined) {
      return `option "${token.rawName}" takes no value; got "${token.value}".`;
    }
  }
  return "an option has a value it cannot take.";
}

function firstPositional(config: Config): string {
  const token = tokensOf(config).find((candidate) => candidate.kind === "positional");
  return token?.kind === "positional" ? token.value : "";
}

/** The options as people type them: `--no-migrate` for a flag that is on unless turned off. */
function names(options: Options): string[] {
  return Object.entries(options).map(([name, option]) =>
    option.type === "boolean" && option.default === true ? `--no-${name}` : `--${name}`,
  );
}
