// The entities a run merges, declared once: table, key, parent, the attributes each history
// table tracks, what is kept current only, and how each column is taken from an accepted
// record. The merge's statements are built from these (src/sql/merge/), once per process.
// Tables and columns are those of prisma/schema.prisma and the migrations.
import type { Column, Entity, History, SqlType } from "../sql/merge/entity.ts";
import type { JobRecord } from "../elements/jobs-payload.ts";
import type { ProductRecord } from "../elements/services-payload.ts";
import { dedupeById, type AcceptedRecord } from "./records.ts";

/** A subscription's attributes: column, type, and the product's field (in the API's order). */
const SUBSCRIPTION_ATTRIBUTES = [
  ["subscription_model", "text", "subscriptionModel"],
  ["purchased_user_seats", "integer", "purchasedUserSeats"],
  ["purchased_units", "integer", "purchasedUnits"],
  ["microsoft_license_assigned", "integer", "microsoftLicenseAssigned"],
  ["microsoft_license_available", "integer", "microsoftLicenseAvailable"],
  ["purchased_capacity", "text", "purchasedCapacity"],
  ["protected_capacity", "text", "protectedCapacity"],
  ["storage", "text", "storage"],
  ["retention", "text", "retention"],
  ["consumed_storage", "text", "consumedStorage"],
  ["expiration_date", "timestamptz", "expirationDate"],
  ["change", "text", "change"],
  ["payment_type", "text", "paymentType"],
  ["package", "text", "package"],
  ["contract_end_date", "timestamptz", "contractEndDate"],
] as const satisfies readonly (readonly [string, SqlType, keyof ProductRecord])[];

/** A column and how a batch row gives its value. */
interface ColumnDeclaration<R> extends Column {
  value: (row: R) => unknown;
}

interface EntityDeclaration<I, R> {
  table: string;
  key: readonly ColumnDeclaration<R>[];
  parent?: Entity["parent"];
  attributes: readonly ColumnDeclaration<R>[];
  currentOnly?: readonly ColumnDeclaration<R>[];
  histories: readonly History[];
  /** The entity's rows in a batch of what its endpoint sent (each record once). */
  rows: (records: readonly I[]) => readonly R[];
}

/**
 * An entity, with what turns a batch of records (accepted customers, by default) into its
 * rows' column values.
 */
export interface DeclaredEntity<I = AcceptedRecord> {
  readonly entity: Entity;
  /** The batch's rows, as one array of values per column (by column name). */
  rows(records: readonly I[]): { count: number; columns: Map<string, unknown[]> };
}

function declare<I, R>(declaration: EntityDeclaration<I, R>): DeclaredEntity<I> {
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

export const customers = declare<AcceptedRecord, AcceptedRecord>({
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

export const tenants = declare<AcceptedRecord, TenantRow>({
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

/** The root entity (customers) and the entities its records carry, in merge order. */
export const ROOT = customers;
export const CHILDREN: readonly DeclaredEntity[] = [tenants];

/** A product of the services endpoint, with the customer that lists it. */
export interface SubscriptionRow {
  customerId: string;
  product: ProductRecord;
}

/**
 * Subscriptions, from the services endpoint (services-pass.ts): identified by customer,
 * service, source and subscription name ('' when absent: a key cannot be NULL).
 */
export const subscriptions = declare<SubscriptionRow, SubscriptionRow>({
  table: "subscriptions",
  key: [
    { name: "customer_id", type: "text", value: (s) => s.customerId },
    { name: "service", type: "text", value: (s) => s.product.service },
    { name: "source", type: "text", value: (s) => s.product.source },
    { name: "subscription_name", type: "text", value: (s) => s.product.subscriptionName },
  ],
  parent: { entity: customers.entity, columns: ["customer_id"] },
  attributes: SUBSCRIPTION_ATTRIBUTES.map(([name, type, field]) => ({
    name,
    type,
    value: (s: SubscriptionRow) => s.product[field],
  })),
  // Every field as sent, those the worker does not know included.
  currentOnly: [
    { name: "source_record", type: "jsonb", large: true, value: (s) => s.product.sourceRecord },
  ],
  histories: [
    {
      table: "subscription_history",
      key: ["customer_id", "service", "source", "subscription_name"],
      tracks: SUBSCRIPTION_ATTRIBUTES.map(([name]) => name),
    },
  ],
  rows: (rows) => rows,
});

/** A job of the backup-jobs endpoint, with the customer it was asked for. */
export interface JobRow {
  customerId: string;
  job: JobRecord;
}

/**
 * Backup jobs, from the jobs endpoint (jobs-pass.ts): the status has history, the rest is
 * kept current. Never removed: a job run stays a fact when the API stops listing it.
 */
export const backupJobs = declare<JobRow, JobRow>({
  table: "backup_jobs",
  key: [
    { name: "customer_id", type: "text", value: (j) => j.customerId },
    { name: "job_id", type: "text", value: (j) => j.job.jobId },
  ],
  parent: { entity: customers.entity, columns: ["customer_id"] },
  attributes: [{ name: "status", type: "integer", value: (j) => j.job.status }],
  currentOnly: [
    { name: "job_type", type: "integer", value: (j) => j.job.jobType },
    { name: "job_module", type: "integer", value: (j) => j.job.jobModule },
    { name: "name", type: "text", value: (j) => j.job.name },
    { name: "total_count", type: "bigint", value: (j) => j.job.totalCount },
    { name: "failed_count", type: "bigint", value: (j) => j.job.failedCount },
    { name: "successful_count", type: "bigint", value: (j) => j.job.successfulCount },
    { name: "skipped_count", type: "bigint", value: (j) => j.job.skippedCount },
    { name: "warning_count", type: "bigint", value: (j) => j.job.warningCount },
    { name: "backup_size", type: "text", value: (j) => j.job.backupSize },
    { name: "start_time", type: "timestamptz", value: (j) => j.job.startTime },
    { name: "end_time", type: "timestamptz", value: (j) => j.job.endTime },
    { name: "last_modified_at", type: "timestamptz", value: (j) => j.job.lastModifyTime },
    { name: "job_duration", type: "text", value: (j) => j.job.jobDuration },
    { name: "source_record", type: "jsonb", large: true, value: (j) => j.job.source },
  ],
  histories: [
    { table: "backup_job_status_history", key: ["customer_id", "job_id"], tracks: ["status"] },
  ],
  rows: (rows) => rows,
});
