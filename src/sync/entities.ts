// The entities a run merges, declared once: table, key, parent, the attributes each history
// table tracks, what is kept current only, and how each column is taken from an accepted
// record. The merge's statements are built from these (src/sql/merge/), once per process.
// Tables and columns are those of prisma/schema.prisma and the migrations.
import type { Column, Entity, History } from "../sql/merge/entity.ts";
import { dedupeById, type AcceptedRecord } from "./records.ts";

/** A column and how a batch row gives its value. */
interface ColumnDeclaration<R> extends Column {
  value: (row: R) => unknown;
}

interface EntityDeclaration<R> {
  table: string;
  key: readonly ColumnDeclaration<R>[];
  parent?: Entity["parent"];
  attributes: readonly ColumnDeclaration<R>[];
  currentOnly?: readonly ColumnDeclaration<R>[];
  histories: readonly History[];
  /** The entity's rows in a batch of accepted records (each record once). */
  rows: (records: readonly AcceptedRecord[]) => readonly R[];
}

/** An entity, with what turns a batch of records into its rows' column values. */
export interface DeclaredEntity {
  readonly entity: Entity;
  /** The batch's rows, as one array of values per column (by column name). */
  rows(records: readonly AcceptedRecord[]): { count: number; columns: Map<string, unknown[]> };
}

function declare<R>(declaration: EntityDeclaration<R>): DeclaredEntity {
  const { rows, ...shape } = declaration;
  const columns = [...shape.key, ...shape.attributes, ...(shape.currentOnly ?? [])];
  return {
    entity: { ...shape, currentOnly: shape.currentOnly ?? [] },
    rows(records) {
      const batch = rows(records);
      return {
        count: batch.length,
        columns: new Map(
          columns.map((column) => [column.name, batch.map((row) => column.value(row))]),
        ),
      };
    },
  };
}

export const customers = declare<AcceptedRecord>({
  table: "customers",
  key: [{ name: "id", type: "text", value: (c) => c.id }],
  attributes: [
    { name: "organization", type: "text", value: (c) => c.organization },
    { name: "owner_email", type: "text", value: (c) => c.ownerEmail },
    { name: "job_status", type: "integer", value: (c) => c.jobStatus },
    { name: "country_or_region", type: "text", value: (c) => c.countryOrRegion },
    { name: "management_mode", type: "integer", value: (c) => c.managementMode },
  ],
  // The record as the API sent it, every field included: fields the worker does not know
  // are kept current, not versioned (source-records.ts).
  currentOnly: [{ name: "source_record", type: "jsonb", large: true, value: (c) => c.source }],
  histories: [
    {
      table: "customer_status_history",
      key: ["customer_id"],
      tracks: ["job_status", "management_mode"],
      counted: true,
    },
    {
      table: "customer_history",
      key: ["customer_id"],
      tracks: ["organization", "owner_email", "country_or_region", "job_status", "management_mode"],
    },
  ],
  rows: (records) => records,
});

interface TenantRow {
  customerId: string;
  id: string;
  name: string | null;
}

export const tenants = declare<TenantRow>({
  table: "tenants",
  key: [
    { name: "customer_id", type: "text", value: (t) => t.customerId },
    { name: "id", type: "text", value: (t) => t.id },
  ],
  parent: { entity: customers.entity, columns: ["customer_id"] },
  attributes: [{ name: "name", type: "text", value: (t) => t.name }],
  histories: [{ table: "tenant_history", key: ["customer_id", "tenant_id"], tracks: ["name"] }],
  // A customer's list as last sent; a tenant listed twice counts once.
  rows: (records) =>
    records.flatMap((c) =>
      dedupeById(c.tenants).map((t) => ({ customerId: c.id, id: t.id, name: t.name })),
    ),
});

/** The root entity (customers) and the entities that belong to it, in merge order. */
export const ROOT = customers;
export const CHILDREN: readonly DeclaredEntity[] = [tenants];
