// What the merge's statements are built from: an entity with history, as a table, its key,
// its parent and its history tables (src/sync/entities.ts declares customers and tenants).
//
// Conventions every declared table keeps (the migrations create them so):
// - the entity's table has first_seen_at, last_seen_at and removed_at (timestamptz);
// - each history table has id (bigserial), the entity's key (under its own names), the
//   attributes it tracks, removed (boolean), valid_from, valid_to, opened_by_run_id and
//   closed_by_run_id, and a unique index on the key WHERE valid_to IS NULL (one open period).
// Every history tracks presence (removed) besides the attributes it names.

export type SqlType = "text" | "integer" | "bigint" | "boolean" | "timestamptz" | "jsonb";

export interface Column {
  readonly name: string;
  readonly type: SqlType;
  /** Rewritten only when it differs: an unchanged large value keeps its TOAST copy. */
  readonly large?: boolean;
}

export interface History {
  readonly table: string;
  /** The entity's key columns as this table names them, in the entity's key order. */
  readonly key: readonly string[];
  /** Attributes (names of the entity's `attributes`) whose every change opens a period. */
  readonly tracks: readonly string[];
  /** The run's counts (status changes, restorations) are read from this history's periods. */
  readonly counted?: boolean;
}

export interface Entity {
  readonly table: string;
  readonly key: readonly Column[];
  /** For an entity that belongs to another: the key columns that hold the parent's key. */
  readonly parent?: { readonly entity: Entity; readonly columns: readonly string[] };
  /** Versioned: kept current in the table and tracked by one history or more. */
  readonly attributes: readonly Column[];
  /**
   * Kept current in the table, never versioned (a value that changes on every call would
   * open a period every night). Not taken back when a record served again is merged anew.
   */
  readonly currentOnly: readonly Column[];
  readonly histories: readonly History[];
}

/** The columns a batch carries, in order: key, attributes, current-only. */
export function batchColumns(entity: Entity): Column[] {
  return [...entity.key, ...entity.attributes, ...entity.currentOnly];
}

/** The temporary table of the entity's rows a complete run removes at its end. */
export function removedTable(entity: Entity): string {
  return `merge_removed_${entity.table}`;
}

/** The entity that has no parent, whose key a run's redo and removal start from. */
export function rootOf(entity: Entity): Entity {
  return entity.parent ? rootOf(entity.parent.entity) : entity;
}

/** The column of `entity`'s table that holds its root's key. */
export function rootKeyColumn(entity: Entity): string {
  const column = entity.parent ? entity.parent.columns[0] : entity.key[0]?.name;
  if (column === undefined) throw new Error(`${entity.table}: declares no key`);
  return column;
}

/** The column of `history` that holds the root's key. */
export function rootKeyInHistory(entity: Entity, history: History): string {
  const position = entity.key.findIndex((column) => column.name === rootKeyColumn(entity));
  const column = history.key[position];
  if (column === undefined) throw new Error(`${history.table}: no column for the root's key`);
  return column;
}

/**
 * Throws, naming what is wrong, unless the statements can be built from `entity`: a root
 * with a one-column key, or a child of a root; every attribute tracked, every tracked name
 * an attribute; no column named `n` (a batch's rows are numbered so).
 */
export function checkEntity(entity: Entity): void {
  const problems: string[] = [];
  const names = batchColumns(entity).map((column) => column.name);
  const attributes = new Set(entity.attributes.map((column) => column.name));
  const keys = new Set(entity.key.map((column) => column.name));
  if (entity.parent === undefined && entity.key.length !== 1) {
    problems.push("a root entity has a key of one column");
  }
  if (entity.parent) {
    if (entity.parent.entity.parent) problems.push("its parent has a parent (one level only)");
    if (entity.parent.columns.length !== entity.parent.entity.key.length) {
      problems.push("parent.columns does not match the parent's key");
    }
    for (const column of entity.parent.columns) {
      if (!keys.has(column)) problems.push(`parent column ${column} is not a key column`);
    }
  }
  if (entity.histories.length === 0) problems.push("declares no history");
  for (const history of entity.histories) {
    if (history.key.length !== entity.key.length) {
      problems.push(`${history.table}.key does not match the entity's key`);
    }
    for (const name of history.tracks) {
      if (!attributes.has(name)) problems.push(`${history.table} tracks ${name}, not an attribute`);
    }
  }
  for (const name of attributes) {
    if (!entity.histories.some((history) => history.tracks.includes(name))) {
      problems.push(`attribute ${name} is tracked by no history (declare it current-only)`);
    }
  }
  if (entity.histories.filter((history) => history.counted).length > 1) {
    problems.push("more than one history is counted");
  }
  if (names.includes("n")) problems.push("a column is named n, as the batch's row number is");
  if (new Set(names).size !== names.length) problems.push("a column is declared twice");
  if (problems.length > 0) {
    throw new Error(`entity ${entity.table} cannot be merged: ${problems.join("; ")}`);
  }
}
