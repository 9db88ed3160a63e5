// End-of-run removal (complete runs only): the root entities present before the run that it
// did not see are removed with their children, as are children their parents no longer
// list (noted batch by batch in merge_removed_<table>). A removal closes the open periods
// and opens removed ones with the last attributes. Whole-table work: these statements run
// with the planner's own choices (planner.ts).
import { removedTable, rootKeyColumn, type Entity, type History } from "./entity.ts";
import { col, list, OBSERVED_AT, q, RUN_ID, statement, type Statement } from "./statement.ts";

/** The rows a complete run removes at its end, by key; dropped with the run's transaction. */
export function createRemovedTable(entity: Entity): Statement {
  const key = entity.key.map((column) => q(column.name));
  return statement(
    `${entity.table}: the table of rows to remove`,
    () => `
CREATE TEMP TABLE ${q(removedTable(entity))} (
  ${entity.key.map((column) => `${q(column.name)} ${column.type} NOT NULL`).join(",\n  ")},
  PRIMARY KEY (${key.join(", ")})
) ON COMMIT DROP`,
  );
}

/**
 * Root rows present now (before the first batch: the base of the mass-removal guard), and
 * all rows, removed included (none: the run's new rows need no comparing).
 */
export function countPresent(entity: Entity): Statement {
  return statement(
    `${entity.table}: count the present rows`,
    () => `
SELECT count(*) FILTER (WHERE ${q("removed_at")} IS NULL)::int AS present, count(*)::int AS stored
FROM ${q(entity.table)}`,
  );
}

/** Present root rows the run has not seen, in key order: those it asks the API about. */
export function listUnseen(entity: Entity): Statement {
  const key = q(rootKeyColumn(entity));
  return statement(
    `${entity.table}: list the present rows the run has not seen`,
    (p) => `
SELECT ${key} AS key FROM ${q(entity.table)}
WHERE ${q("removed_at")} IS NULL AND ${q("last_seen_at")} < ${p(...OBSERVED_AT)}
ORDER BY ${key}`,
  );
}

/** The same rows, into the table of rows to remove. */
export function collectUnseen(entity: Entity): Statement {
  const key = entity.key.map((column) => q(column.name));
  return statement(
    `${entity.table}: collect the present rows the run has not seen`,
    (p) => `
INSERT INTO ${q(removedTable(entity))} (${key.join(", ")})
SELECT ${key.join(", ")} FROM ${q(entity.table)}
WHERE ${q("removed_at")} IS NULL AND ${q("last_seen_at")} < ${p(...OBSERVED_AT)}`,
  );
}

/** A child's present rows whose parents are removed go with them. */
export function collectChildrenOfRemoved(entity: Entity): Statement {
  const parent = entity.parent;
  if (!parent) throw new Error(`${entity.table} has no parent`);
  const key = entity.key.map((column) => q(column.name));
  const joinOn = parent.entity.key
    .map((column, i) => `${col("r", column.name)} = ${col("t", parent.columns[i] ?? "")}`)
    .join(" AND ");
  return statement(
    `${entity.table}: collect the rows of removed parents`,
    () => `
INSERT INTO ${q(removedTable(entity))} (${key.join(", ")})
SELECT ${key.map((name) => `t.${name}`).join(", ")}
FROM ${q(entity.table)} t JOIN ${q(removedTable(parent.entity))} r ON ${joinOn}
WHERE t.${q("removed_at")} IS NULL
ON CONFLICT DO NOTHING`,
  );
}

export function countRemoved(entity: Entity): Statement {
  return statement(
    `${entity.table}: count the rows to remove`,
    () => `
SELECT count(*)::int AS n FROM ${q(removedTable(entity))}`,
  );
}

/** Fresh statistics for the rows to remove: the statements after it join on them. */
export function analyzeRemoved(entity: Entity): Statement {
  return statement(
    `${entity.table}: analyze the rows to remove`,
    () => `
ANALYZE ${q(removedTable(entity))}`,
  );
}

function keyMatch(entity: Entity, history: History, alias: string): string {
  return entity.key
    .map((column, i) => `${col(alias, history.key[i] ?? "")} = ${col("r", column.name)}`)
    .join(" AND ");
}

/** Closes the open periods of the rows to remove. */
export function closeRemoved(entity: Entity, history: History): Statement {
  return statement(
    `${history.table}: close the periods of the rows to remove`,
    (p) => `
UPDATE ${q(history.table)} h
SET ${q("valid_to")} = ${p(...OBSERVED_AT)}, ${q("closed_by_run_id")} = ${p(...RUN_ID)}
FROM ${q(removedTable(entity))} r
WHERE ${keyMatch(entity, history, "h")} AND h.${q("valid_to")} IS NULL
  AND NOT h.${q("removed")}`,
  );
}

/** Opens their removed periods, with the attributes they last had. */
export function openRemoved(entity: Entity, history: History): Statement {
  const key = entity.key.map((column) => col("e", column.name));
  const joinOn = entity.key
    .map((column) => `${col("e", column.name)} = ${col("r", column.name)}`)
    .join(" AND ");
  const columns = [...history.key, ...history.tracks, "removed", "valid_from", "opened_by_run_id"];
  return statement(
    `${history.table}: open the removed periods`,
    (p) => `
INSERT INTO ${q(history.table)}
  (${list(
    columns.map((name) => q(name)),
    "   ",
  )})
SELECT ${list([...key, ...history.tracks.map((name) => col("e", name)), "true", p(...OBSERVED_AT), p(...RUN_ID)], "       ")}
FROM ${q(removedTable(entity))} r
JOIN ${q(entity.table)} e ON ${joinOn}
WHERE e.${q("removed_at")} IS NULL
ORDER BY ${key.join(", ")}`,
  );
}

/** Marks the rows removed (after openRemoved, which reads the present ones). */
export function markRemoved(entity: Entity): Statement {
  const joinOn = entity.key
    .map((column) => `${col("e", column.name)} = ${col("r", column.name)}`)
    .join(" AND ");
  return statement(
    `${entity.table}: mark the rows removed`,
    (p) => `
UPDATE ${q(entity.table)} e SET ${q("removed_at")} = ${p(...OBSERVED_AT)}
FROM ${q(removedTable(entity))} r
WHERE ${joinOn} AND e.${q("removed_at")} IS NULL`,
  );
}
