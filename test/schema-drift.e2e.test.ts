// prisma/schema.prisma and the hand-written migrations must describe the same database.
// Prisma's schema engine (which would diff them) cannot run here, so the schema side comes
// from Prisma's own parser, the WebAssembly build of prisma-schema shipped inside the
// `prisma` package, and the database side from pg_catalog of a freshly migrated database.
// What Prisma cannot express is allowed in the database: CHECK constraints, partial or
// expression indexes, UNLOGGED tables, and _prisma_migrations itself.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BACKUP_JOB_STATUS_LABELS,
  JOB_MODULE_LABELS,
  JOB_STATUS_LABELS,
  JOB_TYPE_LABELS,
  MANAGEMENT_MODE_LABELS,
} from "../src/elements/codes.ts";
import { migrate } from "../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { SUBSCRIPTIONS_AND_JOBS_TABLES } from "./support/migrations.ts";

const SCHEMA_FILE = fileURLToPath(new URL("../prisma/schema.prisma", import.meta.url));

// ---------------------------------------------------------------------------------------
// Schema side: DMMF from prisma_schema_build_bg.wasm (the code of @prisma/prisma-schema-wasm,
// which the prisma CLI bundles). The few lines of wasm-bindgen glue it needs are below.

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: "scalar" | "object" | "enum" | "unsupported";
  type: string;
  isList: boolean;
  isRequired: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

interface DmmfIndex {
  model: string;
  type: "id" | "unique" | "normal" | "fulltext";
  fields: { name: string }[];
}

interface Dmmf {
  datamodel: {
    models: DmmfModel[];
    enums: { name: string; dbName?: string | null }[];
    indexes: DmmfIndex[];
  };
}

interface SchemaWasmExports {
  memory: { buffer: ArrayBuffer };
  __wbindgen_externrefs: {
    get(index: number): unknown;
    set(index: number, value: unknown): void;
    grow(n: number): number;
  };
  __wbindgen_start(): void;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
  __externref_table_dealloc(index: number): void;
  get_dmmf(ptr: number, len: number): [number, number, number, number];
}

interface WasmApi {
  Module: {
    new (bytes: Uint8Array): object;
    imports(module: object): { module: string; name: string }[];
  };
  Instance: new (module: object, imports: object) => { exports: unknown };
}

function loadSchemaWasm(): { wasm: SchemaWasmExports; panicMessage: () => string } {
  const require = createRequire(import.meta.url);
  const file = join(
    dirname(require.resolve("prisma/package.json")),
    "build",
    "prisma_schema_build_bg.wasm",
  );
  const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const module = new api.Module(readFileSync(file));
  // Filled in once instantiated; the glue below is only called after that.
  const instance: { wasm?: SchemaWasmExports } = {};
  let panicMessage = "";
  const text = (ptr: number, len: number): string =>
    new TextDecoder().decode(
      new Uint8Array(instance.wasm?.memory.buffer ?? new ArrayBuffer(0), ptr, len),
    );
  // Keyed by import name without wasm-bindgen's hash suffix, which changes with every build.
  const glue: Record<string, (...args: number[]) => unknown> = {
    __wbg_Error: (ptr, len) => new Error(text(ptr, len)),
    __wbg___wbindgen_throw: (ptr, len) => {
      throw new Error(text(ptr, len));
    },
    __wbg_set_message: (ptr, len) => {
      panicMessage = text(ptr, len);
    },
    __wbindgen_init_externref_table: () => {
      const table = instance.wasm?.__wbindgen_externrefs;
      if (!table) return;
      const base = table.grow(4);
      table.set(0, undefined);
      [undefined, null, true, false].forEach((value, i) => {
        table.set(base + i, value);
      });
    },
  };
  const imports: Record<string, Record<string, unknown>> = {};
  for (const { module: from, name } of api.Module.imports(module)) {
    const fn = glue[name.replace(/_[0-9a-f]{16}$/, "")];
    if (!fn)
      throw new Error(
        `${file} wants an import this test does not provide: ${name}. Update loadSchemaWasm.`,
      );
    (imports[from] ??= {})[name] = fn;
  }
  const wasm = new api.Instance(module, imports).exports as SchemaWasmExports;
  instance.wasm = wasm;
  wasm.__wbindgen_start();
  return { wasm, panicMessage: () => panicMessage };
}

function getDmmf(schema: string): Dmmf {
  const { wasm, panicMessage } = loadSchemaWasm();
  const input = new TextEncoder().encode(JSON.stringify({ prismaSchema: schema, noColor: true }));
  const ptr = wasm.__wbindgen_malloc(input.length, 1);
  new Uint8Array(wasm.memory.buffer, ptr, input.length).set(input);
  let result: [number, number, number, number];
  try {
    result = wasm.get_dmmf(ptr, input.length);
  } catch (error) {
    throw new Error(`prisma-schema wasm failed: ${panicMessage() || String(error)}`, {
      cause: error,
    });
  }
  const [outPtr, outLen, errorRef, failed] = result;
  if (failed) {
    const error = wasm.__wbindgen_externrefs.get(errorRef);
    wasm.__externref_table_dealloc(errorRef);
    throw error instanceof Error ? error : new Error(String(error));
  }
  const json = new TextDecoder().decode(new Uint8Array(wasm.memory.buffer, outPtr, outLen));
  wasm.__wbindgen_free(outPtr, outLen, 1);
  return JSON.parse(json) as Dmmf;
}

// ---------------------------------------------------------------------------------------
// Both sides become a map from an object ("column customers.id") to its description
// ("text NOT NULL"); the diff is every object missing on one side or described differently.

type Shape = Map<string, string>;

const tableKey = (table: string) => `table ${table}`;
const columnKey = (table: string, column: string) => `column ${table}.${column}`;
const primaryKeyKey = (table: string) => `primary key of ${table}`;
const indexKey = (table: string, columns: readonly string[]) =>
  `index on ${table} (${columns.join(", ")})`;
const foreignKeyKey = (table: string, columns: readonly string[]) =>
  `foreign key ${table} (${columns.join(", ")})`;

const columnDescription = (type: string, notNull: boolean, hasDefault: boolean) =>
  `${type} ${notNull ? "NOT NULL" : "NULL"}${hasDefault ? " with default" : ""}`;
const foreignKeyDescription = (
  table: string,
  columns: readonly string[],
  onDelete: string,
  onUpdate: string,
) => `references ${table} (${columns.join(", ")}) ON DELETE ${onDelete} ON UPDATE ${onUpdate}`;

const SCALAR_TYPES: Record<string, string> = {
  String: "text",
  Int: "integer",
  BigInt: "bigint",
  Boolean: "boolean",
  DateTime: "timestamp(3) without time zone",
  Float: "double precision",
  Decimal: "numeric(65,30)",
  Json: "jsonb",
  Bytes: "bytea",
};

// @db.X(args) → what format_type() prints for it; `$` is where the arguments go.
const NATIVE_TYPES: Record<string, string> = {
  Text: "text",
  VarChar: "character varying$",
  Char: "character$",
  Uuid: "uuid",
  Integer: "integer",
  SmallInt: "smallint",
  BigInt: "bigint",
  Real: "real",
  DoublePrecision: "double precision",
  Decimal: "numeric$",
  Boolean: "boolean",
  Timestamp: "timestamp$ without time zone",
  Timestamptz: "timestamp$ with time zone",
  Date: "date",
  Time: "time$ without time zone",
  Timetz: "time$ with time zone",
  Json: "json",
  JsonB: "jsonb",
  ByteA: "bytea",
};

// Defaults Prisma Client fills in itself; they leave no default in the database.
const CLIENT_SIDE_DEFAULTS = new Set(["uuid", "cuid", "nanoid", "ulid"]);

function expectedType(field: DmmfField, dmmf: Dmmf): string {
  // A scalar list is a PostgreSQL array of its element type (format_type prints `text[]`).
  if (field.isList) return `${expectedType({ ...field, isList: false }, dmmf)}[]`;
  if (field.kind === "enum") {
    const enumDef = dmmf.datamodel.enums.find((candidate) => candidate.name === field.type);
    return enumDef?.dbName ?? field.type;
  }
  if (field.nativeType) {
    const [name, args] = field.nativeType;
    const pattern = NATIVE_TYPES[name];
    if (pattern === undefined) return `unsupported by this test: @db.${name}`;
    return pattern.replace("$", args.length > 0 ? `(${args.join(",")})` : "");
  }
  return SCALAR_TYPES[field.type] ?? `unsupported by this test: ${field.type}`;
}

function expectsDatabaseDefault(field: DmmfField): boolean {
  if (!field.hasDefaultValue) return false;
  const name = (field.default as { name?: unknown } | undefined)?.name;
  return !(typeof name === "string" && CLIENT_SIDE_DEFAULTS.has(name));
}

function schemaShape(dmmf: Dmmf): Shape {
  const shape: Shape = new Map();
  const models = new Map(dmmf.datamodel.models.map((model) => [model.name, model]));
  const tableOf = (model: DmmfModel) => model.dbName ?? model.name;
  const columnOf = (model: DmmfModel, fieldName: string) => {
    const field = model.fields.find((candidate) => candidate.name === fieldName);
    return field?.dbName ?? fieldName;
  };

  for (const model of dmmf.datamodel.models) {
    const table = tableOf(model);
    shape.set(tableKey(table), "exists");
    for (const field of model.fields) {
      if (field.kind === "object") {
        const target = models.get(field.type);
        const from = field.relationFromFields ?? [];
        if (!target || from.length === 0) continue; // the side of the relation without the foreign key
        const columns = from.map((name) => columnOf(model, name));
        const referenced = (field.relationToFields ?? []).map((name) => columnOf(target, name));
        const optional = from.some(
          (name) => model.fields.find((f) => f.name === name)?.isRequired === false,
        );
        // Prisma's defaults when the schema does not say: Restrict, or SetNull for optional relations.
        const onDelete = field.relationOnDelete ?? (optional ? "SetNull" : "Restrict");
        const onUpdate = field.relationOnUpdate ?? "Cascade";
        shape.set(
          foreignKeyKey(table, columns),
          foreignKeyDescription(tableOf(target), referenced, onDelete, onUpdate),
        );
        continue;
      }
      const type = expectedType(field, dmmf);
      // Prisma Migrate creates a list column nullable, whatever DMMF's isRequired says (a
      // CHECK constraint in the database may keep NULL out: Prisma neither expresses nor diffs it).
      const notNull = field.isRequired && !field.isList;
      shape.set(
        columnKey(table, field.dbName ?? field.name),
        columnDescription(type, notNull, expectsDatabaseDefault(field)),
      );
    }
  }

  for (const index of dmmf.datamodel.indexes) {
    const model = models.get(index.model);
    if (!model) continue;
    const table = tableOf(model);
    const columns = index.fields.map((field) => columnOf(model, field.name));
    if (index.type === "id") shape.set(primaryKeyKey(table), `(${columns.join(", ")})`);
    else shape.set(indexKey(table, columns), index.type === "unique" ? "unique" : index.type);
  }
  return shape;
}

// ---------------------------------------------------------------------------------------
// Database side.

interface Queryable {
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<T>>;
}

const IN_SCHEMA = `n.nspname = current_schema() AND c.relname <> '_prisma_migrations'`;

const REFERENTIAL_ACTIONS: Record<string, string> = {
  a: "NoAction",
  r: "Restrict",
  c: "Cascade",
  n: "SetNull",
  d: "SetDefault",
};

async function databaseShape(db: Queryable): Promise<Shape> {
  const shape: Shape = new Map();

  const columns = await db.query<{
    table: string;
    column: string;
    type: string;
    not_null: boolean;
    has_default: boolean;
  }>(
    `SELECT c.relname::text AS table, a.attname::text AS column, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, (a.atthasdef OR a.attidentity <> '') AS has_default
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND ${IN_SCHEMA}`,
  );
  for (const row of columns.rows) {
    shape.set(tableKey(row.table), "exists");
    shape.set(
      columnKey(row.table, row.column),
      columnDescription(row.type, row.not_null, row.has_default),
    );
  }

  const indexes = await db.query<{
    table: string;
    columns: string[];
    is_primary: boolean;
    is_unique: boolean;
  }>(
    `SELECT c.relname AS table, i.indisprimary AS is_primary, i.indisunique AS is_unique,
            array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns
     FROM pg_index i
     JOIN pg_class c ON c.oid = i.indrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     -- Partial and expression indexes are beyond Prisma's schema language.
     WHERE i.indpred IS NULL AND i.indexprs IS NULL AND ${IN_SCHEMA}`,
  );
  for (const row of indexes.rows) {
    if (row.is_primary) shape.set(primaryKeyKey(row.table), `(${row.columns.join(", ")})`);
    else shape.set(indexKey(row.table, row.columns), row.is_unique ? "unique" : "normal");
  }

  const foreignKeys = await db.query<{
    table: string;
    columns: string[];
    referenced_table: string;
    referenced_columns: string[];
    on_delete: string;
    on_update: string;
  }>(
    `SELECT c.relname AS table, r.relname AS referenced_table,
            con.confdeltype AS on_delete, con.confupdtype AS on_update,
            array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
              AS referenced_columns
     FROM pg_constraint con
     JOIN pg_class c ON c.oid = con.conrelid
     JOIN pg_class r ON r.oid = con.confrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE con.contype = 'f' AND ${IN_SCHEMA}`,
  );
  for (const row of foreignKeys.rows) {
    const onDelete = REFERENTIAL_ACTIONS[row.on_delete] ?? row.on_delete;
    const onUpdate = REFERENTIAL_ACTIONS[row.on_update] ?? row.on_update;
    shape.set(
      foreignKeyKey(row.table, row.columns),
      foreignKeyDescription(row.referenced_table, row.referenced_columns, onDelete, onUpdate),
    );
  }
  return shape;
}

function diffShapes(schema: Shape, database: Shape): string[] {
  const keys = [...new Set([...schema.keys(), ...database.keys()])].sort();
  return keys.flatMap((key) => {
    const expected = schema.get(key);
    const actual = database.get(key);
    if (expected === actual) return [];
    if (actual === undefined)
      return [`${key}: in schema.prisma (${expected ?? ""}) but not in the database`];
    if (expected === undefined)
      return [`${key}: in the database (${actual}) but not in schema.prisma`];
    return [`${key}: schema.prisma says ${expected}, the migrated database has ${actual}`];
  });
}

// ---------------------------------------------------------------------------------------

describe("schema.prisma and prisma/migrations", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let expected: Shape;

  beforeAll(async () => {
    expected = schemaShape(getDmmf(readFileSync(SCHEMA_FILE, "utf8")));
    db = await createTestDatabase("es_drift");
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    await migrate(pool);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it("reads every model of schema.prisma", () => {
    const tables = [...expected.keys()].filter((key) => key.startsWith("table ")).sort();
    expect(tables).toEqual(
      [
        "customers",
        "tenants",
        "sync_runs",
        "customer_status_history",
        "customer_history",
        "tenant_history",
        "job_status_codes",
        "management_mode_codes",
        "staging_customers",
        "sync_fires",
        ...SUBSCRIPTIONS_AND_JOBS_TABLES,
      ]
        .map(tableKey)
        .sort(),
    );
    expect(expected.get(columnKey("customers", "first_seen_at"))).toBe(
      "timestamp(6) with time zone NOT NULL",
    );
    expect(expected.get(columnKey("sync_runs", "id"))).toBe("integer NOT NULL with default");
  });

  it("the migrated database matches schema.prisma", async () => {
    expect(diffShapes(expected, await databaseShape(pool))).toEqual([]);
  });

  it("keeps NULL out of sync_runs.new_fields with a CHECK, as Prisma lists cannot say NOT NULL", async () => {
    expect(expected.get(columnKey("sync_runs", "new_fields"))).toBe("text[] NULL with default");
    const error: unknown = await pool
      .query("INSERT INTO sync_runs (started_at, new_fields) VALUES (now(), NULL)")
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "23514", constraint: "sync_runs_new_fields_not_null" });
    const { rows } = await pool.query<{ new_fields: string[] }>(
      "INSERT INTO sync_runs (started_at) VALUES (now()) RETURNING new_fields",
    );
    expect(rows).toEqual([{ new_fields: [] }]);
    await pool.query("DELETE FROM sync_runs");
  });

  it("reports a database that has drifted, naming what differs", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      // Views read these columns, and PostgreSQL will not retype a column a view reads.
      await client.query("DROP SCHEMA reporting CASCADE");
      await client.query(`ALTER TABLE customers ALTER COLUMN owner_email SET NOT NULL`);
      await client.query(`ALTER TABLE sync_runs ALTER COLUMN pages_fetched TYPE bigint`);
      await client.query(
        `ALTER TABLE sync_run_resources DROP CONSTRAINT sync_run_resources_run_id_fkey`,
      );
      await client.query(`ALTER TABLE job_status_codes ADD COLUMN extra text`);
      await client.query(
        `CREATE UNIQUE INDEX customers_organization_key ON customers (organization)`,
      );
      await client.query(`DROP INDEX customer_status_history_opened_by_run_id_idx`);
      const diff = diffShapes(expected, await databaseShape(client));
      expect(diff).toEqual([
        "column customers.owner_email: schema.prisma says text NULL, the migrated database has text NOT NULL",
        "column job_status_codes.extra: in the database (text NULL) but not in schema.prisma",
        "column sync_runs.pages_fetched: schema.prisma says integer NOT NULL with default, the migrated database has bigint NOT NULL with default",
        "foreign key sync_run_resources (run_id): in schema.prisma (references sync_runs (id) ON DELETE Restrict " +
          "ON UPDATE Cascade) but not in the database",
        "index on customer_status_history (opened_by_run_id): in schema.prisma (normal) but not in the database",
        "index on customers (organization): in the database (unique) but not in schema.prisma",
      ]);
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });

  it("the code tables hold exactly the labels in src/elements/codes.ts", async () => {
    const codes = async (table: string) =>
      (
        await db.query<{ code: number; label: string }>(
          `SELECT code, label FROM ${table} ORDER BY code`,
        )
      ).map((row): [number, string] => [row.code, row.label]);
    expect(await codes("job_status_codes")).toEqual(
      [...JOB_STATUS_LABELS].sort(([a], [b]) => a - b),
    );
    expect(await codes("management_mode_codes")).toEqual(
      [...MANAGEMENT_MODE_LABELS].sort(([a], [b]) => a - b),
    );
    expect(await codes("backup_job_type_codes")).toEqual(
      [...JOB_TYPE_LABELS].sort(([a], [b]) => a - b),
    );
    expect(await codes("backup_job_module_codes")).toEqual(
      [...JOB_MODULE_LABELS].sort(([a], [b]) => a - b),
    );
    expect(await codes("backup_job_status_codes")).toEqual(
      [...BACKUP_JOB_STATUS_LABELS].sort(([a], [b]) => a - b),
    );
  });
});
