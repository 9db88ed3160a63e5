// Small parsers for option values, each failing with a message that names the option.
import { ConfigError } from "../errors.ts";

export function integerOption(
  values: Record<string, string | boolean | undefined>,
  name: string,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `--${name} must be an integer from ${min} to ${max}; got "${String(raw)}".`,
    );
  }
  return value;
}

export function stringOption(
  values: Record<string, string | boolean | undefined>,
  name: string,
): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || raw.trim() === "")
    throw new ConfigError(`--${name} needs a value.`);
  return raw;
}
