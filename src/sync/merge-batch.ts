// One entity's part of a batch: loaded (and compared) once, then written where it differs.
import type { Session } from "../db.ts";
import { columnParam } from "../sql/merge/batch.ts";
import { batchColumns } from "../sql/merge/entity.ts";
import type { EntityStatements } from "../sql/merge/index.ts";
import { run, type Values } from "../sql/merge/statement.ts";
import type { DeclaredEntity } from "./entities.ts";
import { storableJsonArray } from "./source-records.ts";

/** What loading a batch found (the load statement's one row; per history in declaration order). */
export interface Loaded {
  known: number;
  fresh: number;
  /** Periods to open, per history. */
  opens: number[];
  /** Open periods to close, per history. */
  closes: number[];
}

/** A root entity's batch, which also says what it changes (rows merged again left out). */
export interface RootLoaded extends Loaded {
  /** Keys this run merged already. */
  again: string[];
  present_seen: number;
  restored: number;
  /** Changes in the counted history. */
  changed: number;
}

const EMPTY: RootLoaded = {
  known: 0,
  fresh: 0,
  opens: [],
  closes: [],
  again: [],
  present_seen: 0,
  restored: 0,
  changed: 0,
};

/**
 * Empties the entity's batch table and loads `rows` into it. Emptied even when there is
 * nothing to load: later statements of the batch read it.
 */
export async function loadBatch<T extends Loaded>(
  session: Session,
  { entity, batch }: EntityStatements,
  rows: ReturnType<DeclaredEntity["rows"]>,
  values: Values,
): Promise<T> {
  await run(session, batch.clearBatch);
  // EMPTY has every field of RootLoaded, hence of T.
  if (rows.count === 0) return EMPTY as unknown as T;
  const params: Record<string, unknown> = { ...values };
  for (const column of batchColumns(entity)) {
    const columnValues = rows.columns.get(column.name) ?? [];
    params[columnParam(column).name] =
      column.type === "jsonb" ? storableJsonArray(columnValues) : columnValues;
  }
  const { rows: loaded } = await run<T>(session, batch.loadBatch, params);
  const [summary] = loaded;
  if (!summary) throw new Error(`${entity.table}: loading the batch returned nothing`);
  return summary;
}

/** Updates the known rows, inserts the fresh ones, closes and opens the periods that differ. */
export async function writeBatch(
  session: Session,
  { batch }: EntityStatements,
  loaded: Loaded,
  values: Values,
): Promise<void> {
  if (loaded.known > 0) await run(session, batch.updateRows, values);
  if (loaded.fresh > 0) await run(session, batch.insertRows, values);
  // Rows first: periods reference them.
  for (const [i, { close, open }] of batch.periods.entries()) {
    if ((loaded.closes[i] ?? 0) > 0) await run(session, close, values);
    if ((loaded.opens[i] ?? 0) > 0) await run(session, open, values);
  }
}
