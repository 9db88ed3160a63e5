// A statement built once per process: its text, with identifiers quoted, and its parameters
// by name, so that no caller counts positions ($1 is whatever the statement's first named
// parameter is, and says so in the snapshot test/unit/__snapshots__/merge-statements.sql).
import pg from "pg";
import type { Queryable } from "../../db.ts";

export interface Statement {
  /** What it does: the heading it has in the snapshot. */
  readonly name: string;
  readonly text: string;
  /** Parameter names, $1 first, with their SQL types. */
  readonly params: readonly Param[];
}

export interface Param {
  readonly name: string;
  readonly type: string;
}

/** Values of a statement's parameters, by name. */
export type Values = Readonly<Record<string, unknown>>;

/** A quoted identifier: a declared name never reaches SQL as it is. */
export function q(name: string): string {
  return pg.escapeIdentifier(name);
}

/** `alias.column`, the column quoted. */
export function col(alias: string, column: string): string {
  return `${alias}.${q(column)}`;
}

/** Items, comma separated, wrapped before `width` characters; later lines start with `indent`. */
export function list(items: readonly string[], indent: string, width = 92): string {
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    const next = line === "" ? item : `${line}, ${item}`;
    if (indent.length + next.length > width && line !== "") {
      lines.push(`${line},`);
      line = item;
    } else line = next;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

/**
 * Builds a statement; `build` writes its text and gets each parameter's placeholder from
 * `param(name, type)`: `$n::type`, the same n each time a name comes back.
 */
export function statement(
  name: string,
  build: (param: (name: string, type: string) => string) => string,
): Statement {
  const params: Param[] = [];
  const text = build((paramName, type) => {
    let index = params.findIndex((param) => param.name === paramName);
    if (index < 0) index = params.push({ name: paramName, type }) - 1;
    else if (params[index]?.type !== type) {
      throw new Error(`${name}: parameter ${paramName} used as ${type} and as another type`);
    }
    return `$${index + 1}::${type}`;
  });
  return { name, text: text.trim(), params };
}

/** Runs `statement` with its parameters taken from `values` by name. */
export function run<T extends pg.QueryResultRow = pg.QueryResultRow>(
  session: Queryable,
  statement: Statement,
  values: Values = {},
): Promise<pg.QueryResult<T>> {
  const args = statement.params.map(({ name }) => {
    if (!(name in values)) throw new Error(`${statement.name}: no value for ${name}`);
    return values[name];
  });
  return session.query<T>(statement.text, args);
}

/** The parameters every run passes: its instant and its id. */
export const OBSERVED_AT = ["observed_at", "timestamptz"] as const;
export const RUN_ID = ["run_id", "integer"] as const;
