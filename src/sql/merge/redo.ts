// The redo of a record served again in one run (offset paging over a changing list can
// repeat one): what the run did to the histories of its root entities `again_ids` is taken
// back, so that they merge again from their last copy and no period opens and closes at the
// same instant. Their keys travel as one array: few, and each statement is one index scan.
import {
  rootKeyColumn,
  rootKeyInHistory,
  rootOf,
  removedTable,
  type Entity,
  type History,
} from "./entity.ts";
import { col, OBSERVED_AT, q, RUN_ID, statement, type Statement } from "./statement.ts";

/** The parameter holding the root keys merged again. */
function againIds(entity: Entity): readonly [string, string] {
  return ["again_ids", `${rootOf(entity).key[0]?.type ?? "text"}[]`];
}

/** Deletes the periods the run opened for the entities again_ids. */
export function deleteOpened(entity: Entity, history: History): Statement {
  return statement(
    `${history.table}: delete the periods the run opened`,
    (p) => `
DELETE FROM ${q(history.table)}
WHERE ${q(rootKeyInHistory(entity, history))} = ANY (${p(...againIds(entity))})
  AND ${q("opened_by_run_id")} = ${p(...RUN_ID)}`,
  );
}

/** Reopens the periods the run closed (after deleteOpened: one open period each). */
export function reopenClosed(entity: Entity, history: History): Statement {
  return statement(
    `${history.table}: reopen the periods the run closed`,
    (p) => `
UPDATE ${q(history.table)} SET ${q("valid_to")} = NULL, ${q("closed_by_run_id")} = NULL
WHERE ${q(rootKeyInHistory(entity, history))} = ANY (${p(...againIds(entity))})
  AND ${q("closed_by_run_id")} = ${p(...RUN_ID)}`,
  );
}

function keyMatch(entity: Entity, history: History, row: string, period: string): string {
  return entity.key
    .map((column, i) => `${col(period, history.key[i] ?? "")} = ${col(row, column.name)}`)
    .join(" AND ");
}

/** A child row the run inserted has no period left once its periods are deleted. */
export function deleteInserted(entity: Entity): Statement {
  const first = firstHistory(entity);
  return statement(
    `${entity.table}: delete the rows the run inserted`,
    (p) => `
DELETE FROM ${q(entity.table)} t
WHERE t.${q(rootKeyColumn(entity))} = ANY (${p(...againIds(entity))})
  AND NOT EXISTS (SELECT 1 FROM ${q(first.table)} h WHERE ${keyMatch(entity, first, "t", "h")})`,
  );
}

/**
 * A child row the run updated gets back what its reopened periods say: the attributes each
 * history tracks, and its presence (from the first).
 */
export function restoreRows(entity: Entity, history: History): Statement {
  const isFirst = history === firstHistory(entity);
  const set = [
    ...history.tracks.map((name) => `${q(name)} = ${col("h", name)}`),
    ...(isFirst
      ? [`${q("removed_at")} = CASE WHEN ${col("h", "removed")} THEN ${col("h", "valid_from")} END`]
      : []),
  ];
  return statement(
    `${entity.table}: restore the rows the run updated from ${history.table}`,
    (p) => `
UPDATE ${q(entity.table)} t
SET ${set.join(", ")}
FROM ${q(history.table)} h
WHERE t.${q(rootKeyColumn(entity))} = ANY (${p(...againIds(entity))})
  AND ${keyMatch(entity, history, "t", "h")} AND h.${q("valid_to")} IS NULL`,
  );
}

/** Forgets the child rows the earlier copies no longer listed: the new copy decides. */
export function forgetUnlisted(entity: Entity): Statement {
  return statement(
    `${entity.table}: forget the rows noted as no longer listed`,
    (p) => `
DELETE FROM ${q(removedTable(entity))}
WHERE ${q(rootKeyColumn(entity))} = ANY (${p(...againIds(entity))})`,
  );
}

/** How many child rows of again_ids this run has seen (before they merge again). */
export function countSeen(entity: Entity): Statement {
  return statement(
    `${entity.table}: count the rows the run has seen`,
    (p) => `
SELECT count(*)::int AS n FROM ${q(entity.table)}
WHERE ${q(rootKeyColumn(entity))} = ANY (${p(...againIds(entity))})
  AND ${q("last_seen_at")} = ${p(...OBSERVED_AT)}`,
  );
}

/**
 * What the run changed for the root entities again_ids, read from the periods it opened in
 * the counted history: a new entity's first period, a removed one's, a restored one's, a
 * present one's change. The run closes at most one period per entity, the one before the
 * period it opened.
 */
export function countOpened(entity: Entity): Statement {
  const counted = entity.histories.find((history) => history.counted) ?? entity.histories[0];
  if (!counted) throw new Error(`${entity.table}: declares no history`);
  const key = q(rootKeyInHistory(entity, counted));
  const table = q(counted.table);
  return statement(
    `${entity.table}: count what the run changed for the rows merged again`,
    (p) => `
SELECT
  count(*) FILTER (WHERE before.${q("id")} IS NULL AND e.${q("first_seen_at")} = ${p(...OBSERVED_AT)})::int AS added,
  count(*) FILTER (WHERE opened.${q("removed")})::int AS removed,
  count(*) FILTER (WHERE NOT opened.${q("removed")} AND before.${q("removed")})::int AS restored,
  count(*) FILTER (WHERE NOT opened.${q("removed")} AND NOT before.${q("removed")})::int AS changed
FROM ${table} opened
JOIN ${q(entity.table)} e ON e.${q(entity.key[0]?.name ?? "")} = opened.${key}
LEFT JOIN ${table} before
  ON before.${key} = opened.${key} AND before.${q("closed_by_run_id")} = ${p(...RUN_ID)}
WHERE opened.${key} = ANY (${p(...againIds(entity))}) AND opened.${q("valid_to")} IS NULL
  AND opened.${q("opened_by_run_id")} = ${p(...RUN_ID)}`,
  );
}

function firstHistory(entity: Entity): History {
  const first = entity.histories[0];
  if (!first) throw new Error(`${entity.table}: declares no history`);
  return first;
}
