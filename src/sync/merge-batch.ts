// One entity's part of a batch: compared with what is stored, then written where it
// differs, each statement given the rows it writes (by their comparison) as parameters.
import type { Session } from "../db.ts";
import { columnParam } from "../sql/merge/batch.ts";
import { batchColumns, type Entity } from "../sql/merge/entity.ts";
import type { EntityStatements } from "../sql/merge/index.ts";
import { run, type Statement, type Values } from "../sql/merge/statement.ts";
import type { DeclaredEntity } from "./entities.ts";
import { storableJsonArray } from "./source-records.ts";

export type BatchRows = ReturnType<DeclaredEntity["rows"]>;

/** How a row of the batch compares with what is stored (compareBatch in src/sql/merge/batch.ts). */
export interface Compared {
  known: boolean;
  /** Root entities only: not removed. */
  present?: boolean;
  /** Root entities only: merged already by this run. */
  again?: boolean;
  /** Per history, in declaration order: its open period's id, null when there is none. */
  periods: (string | null)[];
  /** Per history: that period differs from the row sent (or there is none). */
  changed: boolean[];
}

/** compareBatch's row: per history i, period_i and changed_i. */
interface CompareRow extends Record<string, unknown> {
  known: boolean;
  present?: boolean;
  again?: boolean;
}

/**
 * `values` with the batch columns `statement` reads, of the rows `keep` keeps (all when
 * not given): an array per column, one JSON array for a jsonb column.
 */
export function batchValues(
  entity: Entity,
  rows: BatchRows,
  statement: Statement,
  values: Values,
  keep?: (index: number) => boolean,
): Values {
  const result: Record<string, unknown> = { ...values };
  for (const column of batchColumns(entity)) {
    const { name } = columnParam(column);
    if (!statement.params.some((param) => param.name === name)) continue;
    const all = rows.columns.get(column.name) ?? [];
    const kept = keep ? all.filter((_, index) => keep(index)) : all;
    result[name] = column.type === "jsonb" ? storableJsonArray(kept) : kept;
  }
  return result;
}

/** Each row of the batch compared with what is stored, in the batch's order. */
export async function compareBatch(
  session: Session,
  { entity, batch }: EntityStatements,
  rows: BatchRows,
  values: Values,
): Promise<Compared[]> {
  if (rows.count === 0) return [];
  const statement = batch.compareBatch;
  const withRows = batchValues(entity, rows, statement, values);
  const result = await run<CompareRow>(session, statement, withRows);
  const histories = entity.histories.map((_, i) => i);
  return result.rows.map((row) => ({
    known: row.known,
    present: row.present,
    again: row.again,
    periods: histories.map((i) => row[`period_${i}`] as string | null),
    changed: histories.map((i) => row[`changed_${i}`] === true),
  }));
}

/** Updates the known rows, inserts the fresh ones, closes and opens the periods that differ. */
export async function writeBatch(
  session: Session,
  { entity, batch }: EntityStatements,
  rows: BatchRows,
  compared: readonly Compared[],
  values: Values,
): Promise<void> {
  const write = async (statement: Statement, keep: (row: Compared) => boolean) => {
    if (!compared.some(keep)) return;
    const kept = (index: number) => compared[index] !== undefined && keep(compared[index]);
    await run(session, statement, batchValues(entity, rows, statement, values, kept));
  };
  await write(batch.updateRows, (row) => row.known);
  await write(batch.insertRows, (row) => !row.known);
  // After the rows: periods reference them.
  for (const [i, { close, open }] of batch.periods.entries()) {
    const periods = compared
      .filter((row) => row.changed[i])
      .map((row) => row.periods[i])
      .filter((period) => period !== null && period !== undefined);
    if (periods.length > 0) await run(session, close, { ...values, periods });
    await write(open, (row) => row.changed[i] === true);
  }
}
