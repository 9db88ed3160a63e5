// Small parsers for option values, each failing with a message that names the option.
import { UsageError } from "../errors.ts";
import type { OptionValues } from "./command.ts";

export function integerOption(
  values: OptionValues,
  name: string,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${name} must be an integer from ${min} to ${max}; got "${String(raw)}".`,
    );
  }
  return value;
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || raw.trim() === "")
    throw new UsageError(`--${name} needs a value.`);
  return raw;
}

/**
 * The values of an option declared `multiple`, each a comma-separated list: `--customer a
 * --customer b,c` is a, b, c. Duplicates are dropped (first one kept); an empty item is an
 * error naming the value it is in. Undefined when the option is absent.
 */
export function listOption(values: OptionValues, name: string): string[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const given = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [];
  const items: string[] = [];
  for (const value of given) {
    const parts = value.split(",").map((part) => part.trim());
    if (parts.includes("")) {
      throw new UsageError(
        `--${name} has an empty id in "${value}"; give ids separated by commas, none empty.`,
      );
    }
    items.push(...parts);
  }
  if (items.length === 0) throw new UsageError(`--${name} needs a value.`);
  return [...new Set(items)];
}
