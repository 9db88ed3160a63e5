// The batch merge's statements for one entity. A batch is loaded once into a temporary
// table (merge_batch_<table>) by the statement that also compares each row with what is
// stored: one index probe per row and table, fenced with OFFSET 0 (LATERAL lookups are then
// not flattened into joins, however stale the statistics). The writes then read that table
// by column name and touch only what differs: an unchanged batch moves last_seen_at and
// writes no history; a new row is inserted with no lookup wasted.
import {
  batchColumns,
  batchTable,
  changedColumn,
  periodColumn,
  removedTable,
  rootKeyColumn,
  type Column,
  type Entity,
  type History,
} from "./entity.ts";
import { col, list, OBSERVED_AT, q, RUN_ID, statement, type Statement } from "./statement.ts";

/** The load's parameter for a batch column: an array, or one JSON array for jsonb. */
export function columnParam(column: Column): { name: string; type: string } {
  return {
    name: `column:${column.name}`,
    type: column.type === "jsonb" ? "jsonb" : `${column.type}[]`,
  };
}

/** A temporary table dropped at the end of the run's transaction. */
export function createBatchTable(entity: Entity): Statement {
  const columns = [
    ...batchColumns(entity).map((column) => `${q(column.name)} ${column.type}`),
    `${q("known")} boolean`,
    ...(entity.parent ? [] : [`${q("present")} boolean`, `${q("again")} boolean`]),
    ...entity.histories.flatMap((history) => [
      `${q(periodColumn(history))} bigint`,
      `${q(changedColumn(history))} boolean`,
    ]),
  ];
  return statement(
    `${entity.table}: the batch table`,
    () => `
CREATE TEMP TABLE ${q(batchTable(entity))} (
  ${columns.join(",\n  ")}
) ON COMMIT DROP`,
  );
}

/** The rows a complete run removes at its end, by key. */
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

export function clearBatch(entity: Entity): Statement {
  return statement(
    `${entity.table}: clear the batch table`,
    () => `TRUNCATE ${q(batchTable(entity))}`,
  );
}

/** `(h.a, h.b, h.removed) IS DISTINCT FROM (s.a, s.b, false)`: the open period differs. */
function differs(history: History, period: string): string {
  const stored = [...history.tracks.map((name) => col(period, name)), col(period, "removed")];
  const sent = [...history.tracks.map((name) => col("s", name)), "false"];
  const indent = "          ";
  return `(${list(stored, indent)})\n         IS DISTINCT FROM\n         (${list(sent, indent)})`;
}

/** The open period of each row in `history`, probed by the history's key. */
function openPeriodLookup(entity: Entity, history: History): string {
  const match = entity.key.map(
    (column, i) => `${col("h", history.key[i] ?? "")} = ${col("s", column.name)}`,
  );
  const selected = ["id", ...history.tracks, "removed"].map((name) => col("h", name));
  return `
  LEFT JOIN LATERAL (
    SELECT ${list(selected, "           ")}
    FROM ${q(history.table)} h
    WHERE ${match.join(" AND ")} AND h.${q("valid_to")} IS NULL
    OFFSET 0
  ) ${q(history.table)} ON true`;
}

/**
 * Loads the batch (parameters: one array per column, jsonb columns as one JSON array) and
 * compares each row with what is stored. Returns one row: how many rows are known and
 * fresh, and per history (in declaration order) how many periods open and close; for a
 * root entity also the keys merged already by this run (`again`, by this run's
 * last_seen_at) and, leaving those out, what the batch changes: present rows seen,
 * restored rows, and changes of its counted history.
 *
 * A root's row is looked up in its table; a child's existence is read from its first
 * history's open period (every entity ever seen has one), which saves a probe per row.
 */
export function loadBatch(entity: Entity): Statement {
  const columns = batchColumns(entity);
  const root = entity.parent === undefined;
  const counted = entity.histories.find((history) => history.counted);
  return statement(`${entity.table}: load the batch and compare it with what is stored`, (p) => {
    const sources = columns.map((column) => {
      const { name, type } = columnParam(column);
      return column.type === "jsonb"
        ? `jsonb_array_elements(${p(name, type)})`
        : `unnest(${p(name, type)})`;
    });
    const first = entity.histories[0];
    const known = root
      ? `e.${q(entity.key[0]?.name ?? "")} IS NOT NULL`
      : `${col(q(first?.table ?? ""), "id")} IS NOT NULL`;
    const compared = [
      known,
      ...(root
        ? [
            `${known} AND e.${q("removed_at")} IS NULL`,
            `e.${q("last_seen_at")} IS NOT DISTINCT FROM ${p(...OBSERVED_AT)}`,
          ]
        : []),
      ...entity.histories.flatMap((history) => [
        col(q(history.table), "id"),
        differs(history, q(history.table)),
      ]),
    ];
    const targets = [
      ...columns.map((column) => q(column.name)),
      q("known"),
      ...(root ? [q("present"), q("again")] : []),
      ...entity.histories.flatMap((history) => [
        q(periodColumn(history)),
        q(changedColumn(history)),
      ]),
    ];
    const rootLookup = root
      ? `
  -- LATERAL lookups fenced with OFFSET 0: one index probe per row and table.
  LEFT JOIN LATERAL (
    SELECT e.${q(entity.key[0]?.name ?? "")}, e.${q("removed_at")}, e.${q("last_seen_at")}
    FROM ${q(entity.table)} e
    WHERE ${entity.key.map((column) => `${col("e", column.name)} = ${col("s", column.name)}`).join(" AND ")}
    OFFSET 0
  ) e ON true`
      : `
  -- LATERAL lookups fenced with OFFSET 0: one index probe per row and table. Every row ever
  -- seen has one open period in each history: the first says whether the row exists.`;
    const count = (condition: string) => `count(*) FILTER (WHERE ${condition})::int`;
    const perHistory = (f: (history: History) => string) =>
      `ARRAY[${entity.histories.map(f).join(",\n             ")}]`;
    const summary = [
      `${count(q("known"))} AS known`,
      `${count(`NOT ${q("known")}`)} AS fresh`,
      `${perHistory((history) => count(q(changedColumn(history))))} AS opens`,
      `${perHistory((history) => count(`${q(changedColumn(history))} AND ${q(periodColumn(history))} IS NOT NULL`))} AS closes`,
      ...(root
        ? [
            `coalesce(array_agg(${q(entity.key[0]?.name ?? "")}) FILTER (WHERE ${q("again")}), '{}') AS again`,
            `${count(`${q("present")} AND NOT ${q("again")}`)} AS present_seen`,
            `${count(`${q("known")} AND NOT ${q("present")} AND NOT ${q("again")}`)} AS restored`,
            `${counted ? count(`${q("present")} AND ${q(changedColumn(counted))} AND NOT ${q("again")}`) : "0"} AS changed`,
          ]
        : []),
    ];
    return `
WITH loaded AS (
  INSERT INTO ${q(batchTable(entity))}
    (${list(targets, "     ")})
  SELECT ${list(
    columns.map((column) => col("s", column.name)),
    "         ",
  )},
         ${compared.join(",\n         ")}
  FROM ROWS FROM (
    ${list(sources, "    ")}
  ) AS s(${list(
    columns.map((column) => q(column.name)),
    "       ",
  )})${rootLookup}${entity.histories.map((history) => openPeriodLookup(entity, history)).join("")}
  RETURNING *
)
SELECT ${summary.join(",\n       ")}
FROM loaded`;
  });
}

/** Rows of the batch that exist: seen now, attributes as sent, present again. */
export function updateRows(entity: Entity): Statement {
  const set = [...entity.attributes, ...entity.currentOnly].map((column) => {
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
FROM ${q(batchTable(entity))} s
WHERE s.${q("known")} AND ${entity.key.map((column) => `${col("e", column.name)} = ${col("s", column.name)}`).join(" AND ")}`,
  );
}

/** Rows of the batch seen for the first time. */
export function insertRows(entity: Entity): Statement {
  const columns = batchColumns(entity).map((column) => q(column.name));
  return statement(
    `${entity.table}: insert the new rows`,
    (p) => `
INSERT INTO ${q(entity.table)}
  (${list([...columns, q("first_seen_at"), q("last_seen_at"), q("removed_at")], "   ")})
SELECT ${list([...columns.map((name) => `s.${name}`), p(...OBSERVED_AT), p(...OBSERVED_AT), "NULL"], "       ")}
FROM ${q(batchTable(entity))} s
WHERE NOT s.${q("known")}
-- In key order, index inserts walk the indexes instead of jumping.
ORDER BY ${entity.key.map((column) => col("s", column.name)).join(", ")}`,
  );
}

/** Closes the open periods that differ from the batch's rows. */
export function closePeriods(entity: Entity, history: History): Statement {
  return statement(
    `${history.table}: close the periods that differ`,
    (p) => `
UPDATE ${q(history.table)}
SET ${q("valid_to")} = ${p(...OBSERVED_AT)}, ${q("closed_by_run_id")} = ${p(...RUN_ID)}
-- An array, not a join: one index scan over the periods, whatever the statistics say.
WHERE ${q("id")} = ANY (ARRAY(
  SELECT s.${q(periodColumn(history))} FROM ${q(batchTable(entity))} s
  WHERE s.${q(changedColumn(history))} AND s.${q(periodColumn(history))} IS NOT NULL))`,
  );
}

/** Opens a period for every row whose open period differed, or that had none. After closePeriods. */
export function openPeriods(entity: Entity, history: History): Statement {
  const key = history.key.map((name) => q(name));
  const tracked = history.tracks.map((name) => q(name));
  return statement(
    `${history.table}: open the new periods`,
    (p) => `
INSERT INTO ${q(history.table)}
  (${list([...key, ...tracked, q("removed"), q("valid_from"), q("opened_by_run_id")], "   ")})
SELECT ${list([...entity.key.map((column) => col("s", column.name)), ...tracked.map((name) => `s.${name}`), "false", p(...OBSERVED_AT), p(...RUN_ID)], "       ")}
FROM ${q(batchTable(entity))} s
WHERE s.${q(changedColumn(history))}
ORDER BY ${entity.key.map((column) => col("s", column.name)).join(", ")}`,
  );
}

/** The parent's batch, as the array of its keys (an index scan, as in closePeriods). */
function parentKeys(entity: Entity, condition: string): string {
  const parent = entity.parent?.entity;
  if (!parent) throw new Error(`${entity.table} has no parent`);
  return `ANY (ARRAY(SELECT p.${q(parent.key[0]?.name ?? "")} FROM ${q(batchTable(parent))} p${condition}))`;
}

/**
 * A child entity's present rows that their parents in the batch no longer list: after its
 * rows are written, those whose last_seen_at is older than this run's. Removed at the end
 * if the run turns out complete.
 */
export function noteUnlisted(entity: Entity): Statement {
  const key = entity.key.map((column) => q(column.name));
  return statement(
    `${entity.table}: note the rows the batch no longer lists`,
    (p) => `
INSERT INTO ${q(removedTable(entity))} (${key.join(", ")})
SELECT ${key.map((name) => `t.${name}`).join(", ")}
FROM ${q(entity.table)} t
WHERE t.${q(rootKeyColumn(entity))} = ${parentKeys(entity, "")}
  AND t.${q("removed_at")} IS NULL AND t.${q("last_seen_at")} < ${p(...OBSERVED_AT)}`,
  );
}

/**
 * The same for parents merged again by this run: rows only their earlier copy listed were
 * seen now (last_seen_at is this run's), so they are checked against the batch itself.
 */
export function noteUnlistedAgain(entity: Entity): Statement {
  const key = entity.key.map((column) => q(column.name));
  return statement(
    `${entity.table}: note the rows a parent merged again no longer lists`,
    (p) => `
INSERT INTO ${q(removedTable(entity))} (${key.join(", ")})
SELECT ${key.map((name) => `t.${name}`).join(", ")}
FROM ${q(entity.table)} t
WHERE t.${q(rootKeyColumn(entity))} = ${parentKeys(entity, ` WHERE p.${q("again")}`)}
  AND t.${q("removed_at")} IS NULL AND t.${q("last_seen_at")} = ${p(...OBSERVED_AT)}
  AND (${key.map((name) => `t.${name}`).join(", ")}) NOT IN (SELECT ${key.map((name) => `s.${name}`).join(", ")} FROM ${q(batchTable(entity))} s)`,
  );
}
