// How configuration is read: a concern is a record of variables, each declared once as its
// zod schema and what a message about it says and whether its value may be shown. A reader
// takes the raw values from the environment (or, for secrets, from the file `<NAME>_FILE`
// names), checks them all, and reports every bad variable, one line each.
import { closeSync, openSync, readSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** What is known of one variable besides its schema. */
export interface VariableSpec {
  /** Completes "<NAME> must be …", e.g. "an integer from 1 to 20". */
  expects: string;
  /**
   * Never echo the value (true), or not when it may hold credentials (a URL with `@`).
   * Values read from a file are never echoed either.
   */
  secret?: true | "if it holds credentials";
  /** The value may come from the file `<NAME>_FILE` names, as Docker and Kubernetes secrets do. */
  fromFile?: true;
}

/** One variable: how its raw value is checked and what a message about it says. */
export interface Variable<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  readonly spec: VariableSpec;
}

/** A variable whose value `schema` checks, described by `spec`. */
export function variable<S extends z.ZodType>(schema: S, spec: VariableSpec): Variable<S> {
  return { schema, spec };
}

/** A concern's variables by name, in the order messages list them. */
export type Variables = Readonly<Record<string, Variable>>;

type Shape<V extends Variables> = { [K in keyof V]: V[K]["schema"] };
/** The checked values of a concern's variables. */
export type ValuesOf<V extends Variables> = z.output<z.ZodObject<Shape<V>>>;
/** Raw values of a concern's variables, unset ones undefined. */
export type RawValues<V extends Variables> = { readonly [K in keyof V]?: string };

/** A check across variables, reporting its problem as one of `variable`. */
export type Rule<V extends Variables> = (
  raw: RawValues<V>,
) => { variable: keyof V & string; problem: string } | undefined;

type Result<Config> = { config: Config; problems?: never } | { config?: never; problems: string[] };

/** One concern's configuration, read from the environment. */
export interface Concern<Config> {
  /** Every variable it reads, `<NAME>_FILE` ones included, in declaration order. */
  readonly names: readonly string[];
  /** The configuration, or every problem with its variables in declaration order. */
  read(env: Env): Result<Config>;
}

export type ConfigOf<C> = C extends Concern<infer Config> ? Config : never;

/**
 * A concern whose variables are `variables` and whose configuration `toConfig` makes of
 * their valid values. `rules` check across variables on the raw values, so their problems
 * are reported alongside every other one.
 */
export function concern<V extends Variables, Config>(
  variables: V,
  toConfig: (values: ValuesOf<V>) => Config,
  rules: readonly Rule<V>[] = [],
): Concern<Config> {
  const specs = Object.entries(variables).map(([name, { spec }]) => ({ name, spec }));
  const schema = z.object(
    Object.fromEntries(Object.entries(variables).map(([name, one]) => [name, one.schema])),
  ) as unknown as z.ZodObject<Shape<V>>;
  return {
    names: specs.flatMap(({ name, spec }) => (spec.fromFile ? [name, `${name}_FILE`] : [name])),
    read: (env) => readVariables(env, { schema, specs, toConfig, rules }),
  };
}

function readVariables<V extends Variables, Config>(
  env: Env,
  concern: {
    schema: z.ZodObject<Shape<V>>;
    specs: readonly { name: string; spec: VariableSpec }[];
    toConfig: (values: ValuesOf<V>) => Config;
    rules: readonly Rule<V>[];
  },
): Result<Config> {
  const raw: Record<string, string | undefined> = {};
  const files = new Map<string, string>();
  // The first problem of a variable is the one reported: a file that cannot be read
  // explains why the value is missing better than "it is not set" does.
  const problems = new Map<string, string>();
  const report = (name: string, problem: string) => {
    if (!problems.has(name)) problems.set(name, problem);
  };

  for (const { name, spec } of concern.specs) {
    const value = rawValue(env, name, spec);
    if ("problem" in value) report(name, value.problem);
    else {
      raw[name] = value.value;
      if (value.file !== undefined) files.set(name, value.file);
    }
  }
  const parsed = concern.schema.safeParse(raw);
  const specs = new Map(concern.specs.map(({ name, spec }) => [name, spec]));
  for (const issue of parsed.error?.issues ?? []) {
    const [name] = issue.path;
    const spec = typeof name === "string" ? specs.get(name) : undefined;
    if (typeof name !== "string" || !spec) throw new Error(`configuration issue: ${issue.message}`);
    report(name, mustBe(name, spec, raw[name], files.get(name)));
  }
  for (const rule of concern.rules) {
    const found = rule(raw);
    if (found) report(found.variable, found.problem);
  }

  if (problems.size > 0 || !parsed.success) {
    return { problems: concern.specs.flatMap(({ name }) => problems.get(name) ?? []) };
  }
  return { config: concern.toConfig(parsed.data) };
}

function mustBe(
  name: string,
  spec: VariableSpec,
  raw: string | undefined,
  file: string | undefined,
): string {
  const subject = file === undefined ? name : `${name} from ${name}_FILE (${file})`;
  const hidden =
    file !== undefined ||
    spec.secret === true ||
    (spec.secret === "if it holds credentials" && raw?.includes("@") === true);
  const shown =
    raw === undefined ? "it is not set" : hidden ? "the value given is not" : `got "${raw}"`;
  return `${subject} must be ${spec.expects}; ${shown}.`;
}

type RawValue = { value: string | undefined; file?: string } | { problem: string };

/** An empty variable counts as unset, so `.env` can list a variable without a value. */
function rawValue(env: Env, name: string, spec: VariableSpec): RawValue {
  const value = env[name] || undefined;
  const path = spec.fromFile ? env[`${name}_FILE`] || undefined : undefined;
  if (path === undefined) return { value };
  if (value !== undefined) return { problem: `Set either ${name} or ${name}_FILE, not both.` };
  return readValueFile(`${name}_FILE`, path);
}

/** A secret file larger than this is not a secret file (and /dev/zero must not hang the command). */
export const MAX_VALUE_FILE_BYTES = 64 * 1024;

/**
 * The value a secret file holds: its content without one trailing newline, as the official
 * postgres image reads `POSTGRES_PASSWORD_FILE`. The content is never part of a message.
 */
function readValueFile(variable: string, path: string): RawValue {
  let content: Buffer;
  try {
    content = readUpTo(path, MAX_VALUE_FILE_BYTES + 1);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return { problem: `${variable} cannot be read (${path}): ${code ?? message}.` };
  }
  if (content.length > MAX_VALUE_FILE_BYTES) {
    return {
      problem: `${variable} (${path}) is larger than ${MAX_VALUE_FILE_BYTES / 1024} KiB; it must hold the value only.`,
    };
  }
  const value = content.toString("utf8").replace(/\r?\n$/, "");
  if (value === "") return { problem: `${variable} (${path}) is empty; it must hold the value.` };
  return { value, file: path };
}

function readUpTo(path: string, limit: number): Buffer {
  const buffer = Buffer.alloc(limit);
  const fd = openSync(path, "r");
  try {
    let length = 0;
    while (length < limit) {
      const read = readSync(fd, buffer, length, limit - length, null);
      if (read === 0) break;
      length += read;
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Every problem of every concern at once; ConfigError lists them one a line. */
export function readConcerns<Concerns extends Record<string, Concern<unknown>>>(
  env: Env,
  concerns: Concerns,
): { [K in keyof Concerns]: ConfigOf<Concerns[K]> } {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [name, one] of Object.entries(concerns)) {
    const result = one.read(env);
    if (result.problems) problems.push(...result.problems);
    else config[name] = result.config;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // Every concern's config was set above: there were no problems.
  return config as { [K in keyof Concerns]: ConfigOf<Concerns[K]> };
}

/** An integer from `min` to `max`, from the variable's text. */
export const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Whether a URL carries a user name or password (never to be echoed or sent on). */
export function hasCredentials(url: string): boolean {
  // An unparsable URL is z.url's to report.
  if (!URL.canParse(url)) return false;
  const { username, password } = new URL(url);
  return username !== "" || password !== "";
}
