// The batch merge's statements for one entity. The batch's rows travel as parameters, one
// per column and named after it (`column:<name>`), read as one row source with named
// columns (batchSource): each statement gets the rows it writes, and only the columns it
// reads. The first statement compares each row with what is stored, one index probe per
// row and table; the others then write only what differs: an unchanged batch moves
// last_seen_at and writes no history; a new row is inserted with no lookup wasted.
// (A temporary table loaded once per batch reads as well, but emptying it costs a
// TRUNCATE, about 3 ms, per batch and entity: more than the statements it saves.)
import {
  batchColumns,
  removedTable,
  rootKeyColumn,
  type Column,
  type Entity,
  type History,
} from "./entity.ts";
import { col, list, OBSERVED_AT, q, RUN_ID, statement, type Statement } from "./statement.ts";

/** A batch column's parameter: an array, or one JSON array for jsonb. */
export function columnParam(column: Column): { name: string; type: string } {
  return {
    name: `column:${column.name}`,
    type: column.type === "jsonb" ? "jsonb" : `${column.type}[]`,
  };
}

type ParamFn = (name: string, type: string) => string;

/** The batch's rows with `columns`, as `s`, numbered `n` in the order sent. */
function batchSource(columns: readonly Column[], p: ParamFn, indent = ""): string {
  const sources = columns.map((column) => {
    const { name, type } = columnParam(column);
    return column.type === "jsonb"
      ? `jsonb_array_elements(${p(name, type)})`
      : `unnest(${p(name, type)})`;
  });
  const names = [...columns.map((column) => q(column.name)), "n"];
  return `ROWS FROM (
${indent}  ${list(sources, `${indent}  `)}
${indent}) WITH ORDINALITY AS s(${list(names, `${indent}${" ".repeat(23)}`)})`;
}

function keyMatch(entity: Entity, left: string, right: string): string {
  return entity.key
    .map((column) => `${col(left, column.name)} = ${col(right, column.name)}`)
    .join(" AND ");
}

/** `(h.a, h.b, h.removed) IS DISTINCT FROM (s.a, s.b, false)`: the open period differs. */
function differs(history: History, period: string): string {
  const stored = [...history.tracks.map((name) => col(period, name)), col(period, "removed")];
  const sent = [...history.tracks.map((name) => col("s", name)), "false"];
  return `(${list(stored, "          ")})
           IS DISTINCT FROM (${list(sent, "                             ")})`;
}

/** The open period of each row in `history`, probed by the history's key. */
function openPeriodLookup(entity: Entity, history: History): string {
  const match = entity.key.map(
    (column, i) => `${col("h", history.key[i] ?? "")} = ${col("s", column.name)}`,
  );
  const selected = ["id", ...history.tracks, "removed"].map((name) => col("h", name));
  return `
LEFT JOIN LATERAL (
  SELECT ${list(selected, "         ")}
  FROM ${q(history.table)} h
  WHERE ${match.join(" AND ")} AND h.${q("valid_to")} IS NULL
  OFFSET 0
) ${q(history.table)} ON true`;
}

/**
 * Compares each row of the batch (key and attributes) with what is stored, in the order
 * sent: `known` (it exists), per history (the i-th declared) its open period's id
 * (`period_i`, null when none) and whether that period differs (`changed_i`, true when
 * none; scalar columns, as arrays cost the driver a parse per row);
 * for a root entity also `present` (not removed) and `again` (merged already by this run:
 * its last_seen_at is this run's instant). A root's row is looked up in its table; a
 * child's existence is read from its first history's open period (every row ever seen has
 * one), which saves a probe per row.
 */
export function compareBatch(entity: Entity): Statement {
  const root = entity.parent === undefined;
  const first = entity.histories[0];
  if (!first) throw new Error(`${entity.table}: declares no history`);
  return statement(`${entity.table}: compare the batch with what is stored`, (p) => {
    const known = root
      ? `e.${q(entity.key[0]?.name ?? "")} IS NOT NULL`
      : `${col(q(first.table), "id")} IS NOT NULL`;
    const selected = [
      `${known} AS known`,
      ...(root
        ? [
            `${known} AND e.${q("removed_at")} IS NULL AS present`,
            `e.${q("last_seen_at")} IS NOT DISTINCT FROM ${p(...OBSERVED_AT)} AS again`,
          ]
        : []),
      ...entity.histories.flatMap((history, i) => [
        `${col(q(history.table), "id")}::text AS period_${i}`,
        `${differs(history, q(history.table))} AS changed_${i}`,
      ]),
    ];
    const rootLookup = root
      ? `
LEFT JOIN LATERAL (
  SELECT e.${q(entity.key[0]?.name ?? "")}, e.${q("removed_at")}, e.${q("last_seen_at")}
  FROM ${q(entity.table)} e
  WHERE ${keyMatch(entity, "e", "s")}
  OFFSET 0
) e ON true`
      : "";
    return `
SELECT ${selected.join(",\n       ")}
FROM ${batchSource([...entity.key, ...entity.attributes], p)}
-- LATERAL lookups fenced with OFFSET 0 (not flattened into joins): one index probe per row
-- and table, however stale the statistics.${rootLookup}${entity.histories.map((history) => openPeriodLookup(entity, history)).join("")}
ORDER BY s.n`;
  });
}

/** Rows that exist (parameters: those rows): seen now, attributes as sent, present again. */
export function updateRows(entity: Entity): Statement {
  const columns = [...entity.attributes, ...entity.currentOnly];
  const set = columns.map((column) => {
    const name = q(column.name);
    return column.large
      ? `-- Kept as stored when unchanged: a large value then keeps its TOAST copy.
    ${name} = CASE WHEN e.${name} IS DISTINCT FROM s.${name}
      THEN s.${name} ELSE e.${name} END`
      : `${name} = s.${name}`;
  });
  return statement(
    `${entity.table}: update the known rows`,
    (p) => `
UPDATE ${q(entity.table)} e
SET ${set.join(",\n    ")},
    ${q("last_seen_at")} = ${p(...OBSERVED_AT)},
    ${q("removed_at")} = NULL
FROM ${batchSource([...entity.key, ...columns], p)}
WHERE ${keyMatch(entity, "e", "s")}`,
  );
}

/** Rows seen for the first time (parameters: those rows). */
export function insertRows(entity: Entity): Statement {
  const columns = batchColumns(entity);
  const names = columns.map((column) => q(column.name));
  return statement(
    `${entity.table}: insert the new rows`,
    (p) => `
INSERT INTO ${q(entity.table)}
  (${list([...names, q("first_seen_at"), q("last_seen_at"), q("removed_at")], "   ")})
SELECT ${list([...names.map((name) => `s.${name}`), p(...OBSERVED_AT), p(...OBSERVED_AT), "NULL"], "       ")}
FROM ${batchSource(columns, p)}
-- In key order, index inserts walk the indexes instead of jumping.
ORDER BY ${entity.key.map((column) => col("s", column.name)).join(", ")}`,
  );
}

/** Closes the open periods `periods` (those compareBatch found to differ). */
export function closePeriods(history: History): Statement {
  return statement(
    `${history.table}: close the periods that differ`,
    (p) => `
UPDATE ${q(history.table)}
SET ${q("valid_to")} = ${p(...OBSERVED_AT)}, ${q("closed_by_run_id")} = ${p(...RUN_ID)}
WHERE ${q("id")} = ANY (${p("periods", "bigint[]")})`,
  );
}

/**
 * Opens a period for each row (parameters: those whose open period differed, or that had
 * none). After closePeriods: one open period per row.
 */
export function openPeriods(entity: Entity, history: History): Statement {
  // In the history's order, as the columns inserted into.
  const tracked = history.tracks.flatMap((name) =>
    entity.attributes.filter((column) => column.name === name),
  );
  const targets = [...history.key, ...history.tracks, "removed", "valid_from", "opened_by_run_id"];
  return statement(`${history.table}: open the new periods`, (p) => {
    const values = [
      ...[...entity.key, ...tracked].map((column) => col("s", column.name)),
      "false",
      p(...OBSERVED_AT),
      p(...RUN_ID),
    ];
    return `
INSERT INTO ${q(history.table)}
  (${list(
    targets.map((name) => q(name)),
    "   ",
  )})
SELECT ${list(values, "       ")}
FROM ${batchSource([...entity.key, ...tracked], p)}
ORDER BY ${entity.key.map((column) => col("s", column.name)).join(", ")}`;
  });
}

/** The parameter holding the keys of the parent's batch (`again` ones, or all). */
function parentKeys(entity: Entity, again: boolean): readonly [string, string] {
  const type = entity.parent?.entity.key[0]?.type ?? "text";
  return [again ? "again_ids" : "parent_ids", `${type}[]`];
}

/**
 * A child entity's present rows that their parents in the batch (parent_ids) no longer
 * list: after its rows are written, those whose last_seen_at is older than this run's.
 * Removed at the end if the run turns out complete.
 */
export function noteUnlisted(entity: Entity): Statement {
  const key = entity.key.map((column) => q(column.name));
  return statement(
    `${entity.table}: note the rows the batch no longer lists`,
    (p) => `
INSERT INTO ${q(removedTable(entity))} (${key.join(", ")})
SELECT ${key.map((name) => `t.${name}`).join(", ")}
FROM ${q(entity.table)} t
WHERE t.${q(rootKeyColumn(entity))} = ANY (${p(...parentKeys(entity, false))})
  AND t.${q("removed_at")} IS NULL AND t.${q("last_seen_at")} < ${p(...OBSERVED_AT)}`,
  );
}

/**
 * The same for parents merged again by this run (again_ids): rows only their earlier copy
 * listed were seen now (last_seen_at is this run's), so they are checked against the
 * batch's rows themselves (parameters: the key columns of all of them).
 */
export function noteUnlistedAgain(entity: Entity): Statement {
  const key = entity.key.map((column) => q(column.name));
  return statement(
    `${entity.table}: note the rows a parent merged again no longer lists`,
    (p) => `
INSERT INTO ${q(removedTable(entity))} (${key.join(", ")})
SELECT ${key.map((name) => `t.${name}`).join(", ")}
FROM ${q(entity.table)} t
WHERE t.${q(rootKeyColumn(entity))} = ANY (${p(...parentKeys(entity, true))})
  AND t.${q("removed_at")} IS NULL AND t.${q("last_seen_at")} = ${p(...OBSERVED_AT)}
  AND (${key.map((name) => `t.${name}`).join(", ")}) NOT IN (
    SELECT ${key.map((name) => `s.${name}`).join(", ")}
    FROM ${batchSource(entity.key, p, "    ")})`,
  );
}
