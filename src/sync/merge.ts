// The merge: turns what a run staged into the new state of customers, tenants and their
// histories (customer_status_history, customer_history, tenant_history), batch by batch
// while pages are still being fetched, inside the run's one transaction (the run lock's,
// lock.ts): readers see the run's changes all at once when it commits, or never.
//
// Each batch is the customers a staging write just stored. For each, the open history
// periods that differ from what was staged are closed and a period opens wherever none is
// open, which keeps the history invariants by construction: one open period per entity, no
// gaps (a period closes at the instant the next opens), no two equal in a row. What the run
// did not see is only known at the end: finishMerge marks it removed (complete runs only).
//
// A customer served twice in one run (offset paging over a changing list can repeat one)
// is merged again from its last copy: what the run did to its history is undone first, so
// no period opens and closes at the same instant.
import type { Session } from "../db.ts";
import { dedupeById, type AcceptedRecord } from "./records.ts";
import { sourceRecordsJson } from "./source-records.ts";

export interface MergeInput {
  runId: number;
  /** The instant this run observed the data; stamps periods, first/last seen and removals. */
  observedAt: Date;
}

export interface MergeCounts {
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
}

export const NO_CHANGES: MergeCounts = {
  customersAdded: 0,
  customersRemoved: 0,
  customersRestored: 0,
  statusChanges: 0,
};

export function addCounts(a: MergeCounts, b: MergeCounts, sign: 1 | -1 = 1): MergeCounts {
  return {
    customersAdded: a.customersAdded + sign * b.customersAdded,
    customersRemoved: a.customersRemoved + sign * b.customersRemoved,
    customersRestored: a.customersRestored + sign * b.customersRestored,
    statusChanges: a.statusChanges + sign * b.statusChanges,
  };
}

/**
 * Call once, in the run's transaction, before the first batch. Returns how many customers
 * were present (not removed) before the run: the base of the mass-removal guard.
 */
export async function beginMerge(session: Session): Promise<number> {
  // Tenants present before the run that a customer seen by it no longer lists: removed at
  // the end if the run turns out complete.
  await session.query(`
    CREATE TEMP TABLE merge_dropped_tenants (
      customer_id text NOT NULL,
      tenant_id text NOT NULL,
      PRIMARY KEY (customer_id, tenant_id)
    ) ON COMMIT DROP`);
  const { rows } = await session.query<{ present: number }>(
    "SELECT count(*)::int AS present FROM customers WHERE removed_at IS NULL",
  );
  return rows[0]?.present ?? 0;
}

export interface BatchResult {
  counts: MergeCounts;
  /** Customers of the batch that were present before the run (each counted once per run). */
  presentSeen: number;
}

/**
 * Merges a batch of staged customers, each once, with its tenants. The batch's rows travel
 * as array parameters, not read back from staging: staging goes on changing meanwhile (a
 * customer served again replaces its row there), and every statement of a batch must see
 * the same rows.
 */
export async function mergeBatch(
  session: Session,
  input: MergeInput,
  customers: readonly AcceptedRecord[],
): Promise<BatchResult> {
  const batch = batchColumns(customers);
  const { again, presentSeen } = await upsertCustomers(session, input, batch);
  // Counts are read from the periods the run opened: a customer merged again first takes
  // back what its earlier copy counted.
  let counts = NO_CHANGES;
  if (again.length > 0) {
    counts = addCounts(counts, await countOpened(session, input, again), -1);
    await undoRun(session, input, again);
  }
  const customerParams = [...batch.customers, input.observedAt, input.runId];
  const tenantParams = [...batch.tenants, input.observedAt, input.runId];
  await closeChangedStatusPeriods(session, customerParams);
  await openStatusPeriods(session, customerParams);
  await closeChangedCustomerPeriods(session, customerParams);
  await openCustomerPeriods(session, customerParams);
  await closeChangedTenantPeriods(session, tenantParams);
  await upsertTenants(session, [...batch.tenants, input.observedAt]);
  await openTenantPeriods(session, tenantParams);
  await noteDroppedTenants(session, batch);
  counts = addCounts(counts, await countOpened(session, input, batch.ids));
  return { counts, presentSeen };
}

/** A batch as one array per column. */
interface BatchColumns {
  ids: string[];
  /** $1 to $6 of BATCH_CUSTOMERS. */
  customers: unknown[];
  /** $1 to $3 of BATCH_TENANTS. */
  tenants: unknown[];
  /** The records as sent, one JSON array. */
  sourceRecords: string;
}

function batchColumns(batch: readonly AcceptedRecord[]): BatchColumns {
  // Each row once: ON CONFLICT may not touch a row twice in one statement.
  const records = dedupeById(batch);
  const ids = records.map((c) => c.id);
  const tenants = records.flatMap((c) =>
    dedupeById(c.tenants).map((t) => ({ customerId: c.id, ...t })),
  );
  return {
    ids,
    customers: [
      ids,
      records.map((c) => c.organization),
      records.map((c) => c.ownerEmail),
      records.map((c) => c.jobStatus),
      records.map((c) => c.countryOrRegion),
      records.map((c) => c.managementMode),
    ],
    tenants: [
      tenants.map((t) => t.customerId),
      tenants.map((t) => t.id),
      tenants.map((t) => t.name),
    ],
    sourceRecords: sourceRecordsJson(records),
  };
}

/** The batch's customers, from parameters $1 to $6. */
const BATCH_CUSTOMERS = `ROWS FROM (
    unnest($1::text[]), unnest($2::text[]), unnest($3::text[]),
    unnest($4::int[]), unnest($5::text[]), unnest($6::int[])
  ) AS s(id, organization, owner_email, job_status, country_or_region, management_mode)`;

/** The batch's tenants, from parameters $1 to $3. */
const BATCH_TENANTS = `unnest($1::text[], $2::text[], $3::text[]) AS s(customer_id, id, name)`;

/**
 * The customers row of each customer of the batch: inserted, or updated to what was sent
 * (and seen now). Returns the ids this run had merged already, and how many of the rest
 * were present before the run.
 */
async function upsertCustomers(
  session: Session,
  { observedAt }: MergeInput,
  batch: BatchColumns,
): Promise<{ again: string[]; presentSeen: number }> {
  // `prior` reads the rows as they were before this statement (a data-modifying CTE sees
  // the statement's snapshot); last_seen_at = this run's instant marks one it merged already.
  const { rows } = await session.query<{ again: string[]; presentSeen: number }>(
    `WITH prior AS (
       SELECT c.id, c.removed_at IS NULL AS present, c.last_seen_at = $7 AS again
       FROM customers c WHERE c.id = ANY($1::text[])
     ),
     upserted AS (
       INSERT INTO customers AS c (id, organization, owner_email, job_status, country_or_region,
                                   management_mode, first_seen_at, last_seen_at, removed_at,
                                   source_record)
       SELECT s.id, s.organization, s.owner_email, s.job_status, s.country_or_region,
              s.management_mode, $7, $7, NULL, s.source_record
       FROM ROWS FROM (
         unnest($1::text[]), unnest($2::text[]), unnest($3::text[]),
         unnest($4::int[]), unnest($5::text[]), unnest($6::int[]),
         jsonb_array_elements($8::jsonb)
       ) AS s(id, organization, owner_email, job_status, country_or_region, management_mode,
              source_record)
       -- In key order, index inserts walk the indexes instead of jumping.
       ORDER BY s.id
       ON CONFLICT (id) DO UPDATE SET
         organization = EXCLUDED.organization,
         owner_email = EXCLUDED.owner_email,
         job_status = EXCLUDED.job_status,
         country_or_region = EXCLUDED.country_or_region,
         management_mode = EXCLUDED.management_mode,
         -- Kept as stored when unchanged: a large record then keeps its TOAST copy.
         source_record = CASE WHEN c.source_record IS DISTINCT FROM EXCLUDED.source_record
                              THEN EXCLUDED.source_record ELSE c.source_record END,
         last_seen_at = EXCLUDED.last_seen_at,
         removed_at = NULL
     )
     SELECT coalesce(array_agg(id) FILTER (WHERE again), '{}') AS again,
            (count(*) FILTER (WHERE present AND NOT again))::int AS "presentSeen"
     FROM prior`,
    [...batch.customers, observedAt, batch.sourceRecords],
  );
  return rows[0] ?? { again: [], presentSeen: 0 };
}

/**
 * Takes back what this run did to the histories of customers `ids` (periods it opened are
 * deleted, periods it closed reopen) and to their tenants (rows it inserted are deleted,
 * rows it updated get back the name and presence of their reopened period), so they can be
 * merged again from their last copy.
 */
async function undoRun(session: Session, { runId }: MergeInput, ids: readonly string[]) {
  const params = [runId, ids];
  for (const table of ["customer_status_history", "customer_history", "tenant_history"]) {
    await session.query(
      `DELETE FROM ${table} WHERE customer_id = ANY($2::text[]) AND opened_by_run_id = $1`,
      params,
    );
    await session.query(
      `UPDATE ${table} SET valid_to = NULL, closed_by_run_id = NULL
       WHERE customer_id = ANY($2::text[]) AND closed_by_run_id = $1`,
      params,
    );
  }
  // A tenant the run inserted has no period left; one it updated has its old one again.
  await session.query(
    `DELETE FROM tenants t
     WHERE t.customer_id = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM tenant_history h
                       WHERE h.customer_id = t.customer_id AND h.tenant_id = t.id)`,
    [ids],
  );
  await session.query(
    `UPDATE tenants t
     SET name = h.name, removed_at = CASE WHEN h.removed THEN h.valid_from END
     FROM tenant_history h
     WHERE t.customer_id = ANY($1::text[])
       AND h.customer_id = t.customer_id AND h.tenant_id = t.id AND h.valid_to IS NULL`,
    [ids],
  );
  await session.query("DELETE FROM merge_dropped_tenants WHERE customer_id = ANY($1::text[])", [
    ids,
  ]);
}

async function closeChangedStatusPeriods(session: Session, params: unknown[]) {
  await session.query(
    `UPDATE customer_status_history h
     SET valid_to = $7, closed_by_run_id = $8
     FROM ${BATCH_CUSTOMERS}
     WHERE h.customer_id = s.id AND h.valid_to IS NULL
       AND (h.job_status, h.management_mode, h.removed)
           IS DISTINCT FROM (s.job_status, s.management_mode, false)`,
    params,
  );
}

/** After the customers rows (the periods reference them) and the changed periods' closing. */
async function openStatusPeriods(session: Session, params: unknown[]) {
  await session.query(
    `INSERT INTO customer_status_history
       (customer_id, job_status, management_mode, removed, valid_from, opened_by_run_id)
     SELECT s.id, s.job_status, s.management_mode, false, $7, $8
     FROM ${BATCH_CUSTOMERS}
     WHERE NOT EXISTS (SELECT 1 FROM customer_status_history h
                       WHERE h.customer_id = s.id AND h.valid_to IS NULL)
     ORDER BY s.id`,
    params,
  );
}

async function closeChangedCustomerPeriods(session: Session, params: unknown[]) {
  await session.query(
    `UPDATE customer_history h
     SET valid_to = $7, closed_by_run_id = $8
     FROM ${BATCH_CUSTOMERS}
     WHERE h.customer_id = s.id AND h.valid_to IS NULL
       AND (h.organization, h.owner_email, h.country_or_region,
            h.job_status, h.management_mode, h.removed)
           IS DISTINCT FROM (s.organization, s.owner_email, s.country_or_region,
                             s.job_status, s.management_mode, false)`,
    params,
  );
}

async function openCustomerPeriods(session: Session, params: unknown[]) {
  await session.query(
    `INSERT INTO customer_history
       (customer_id, organization, owner_email, country_or_region, job_status, management_mode,
        removed, valid_from, opened_by_run_id)
     SELECT s.id, s.organization, s.owner_email, s.country_or_region, s.job_status,
            s.management_mode, false, $7, $8
     FROM ${BATCH_CUSTOMERS}
     WHERE NOT EXISTS (SELECT 1 FROM customer_history h
                       WHERE h.customer_id = s.id AND h.valid_to IS NULL)
     ORDER BY s.id`,
    params,
  );
}

/** The batch's tenants that are renamed or back. */
async function closeChangedTenantPeriods(session: Session, params: unknown[]) {
  await session.query(
    `UPDATE tenant_history h
     SET valid_to = $4, closed_by_run_id = $5
     FROM ${BATCH_TENANTS}
     WHERE h.customer_id = s.customer_id AND h.tenant_id = s.id AND h.valid_to IS NULL
       AND (h.removed OR h.name IS DISTINCT FROM s.name)`,
    params,
  );
}

// An UPDATE of the tenants seen before and an INSERT of the rest rather than INSERT ... ON
// CONFLICT: on a re-run nearly every tenant exists, and the update is then one join with
// no speculative insertion per row.
async function upsertTenants(session: Session, params: unknown[]) {
  await session.query(
    `UPDATE tenants t SET name = s.name, last_seen_at = $4, removed_at = NULL
     FROM ${BATCH_TENANTS}
     WHERE t.customer_id = s.customer_id AND t.id = s.id`,
    params,
  );
  await session.query(
    `INSERT INTO tenants (customer_id, id, name, first_seen_at, last_seen_at, removed_at)
     SELECT s.customer_id, s.id, s.name, $4, $4, NULL
     FROM ${BATCH_TENANTS}
     WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.customer_id = s.customer_id AND t.id = s.id)
     ORDER BY s.customer_id, s.id`,
    params,
  );
}

async function openTenantPeriods(session: Session, params: unknown[]) {
  await session.query(
    `INSERT INTO tenant_history (customer_id, tenant_id, name, removed, valid_from, opened_by_run_id)
     SELECT s.customer_id, s.id, s.name, false, $4, $5
     FROM ${BATCH_TENANTS}
     WHERE NOT EXISTS (SELECT 1 FROM tenant_history h
                       WHERE h.customer_id = s.customer_id AND h.tenant_id = s.id
                         AND h.valid_to IS NULL)
     ORDER BY s.customer_id, s.id`,
    params,
  );
}

/** Present tenants the batch's customers no longer list. */
async function noteDroppedTenants(session: Session, batch: BatchColumns) {
  await session.query(
    `INSERT INTO merge_dropped_tenants (customer_id, tenant_id)
     SELECT t.customer_id, t.id
     FROM tenants t
     WHERE t.customer_id = ANY($4::text[]) AND t.removed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM ${BATCH_TENANTS}
                       WHERE s.customer_id = t.customer_id AND s.id = t.id)`,
    [...batch.tenants, batch.ids],
  );
}

/**
 * What the run changed for customers `ids`, read from the status periods it opened: a new
 * customer's first period, a removed customer's back, a present one's new status. The run
 * closes at most one period per customer, the one before the period it opened.
 */
async function countOpened(
  session: Session,
  { runId, observedAt }: MergeInput,
  ids: readonly string[],
): Promise<MergeCounts> {
  const { rows } = await session.query<MergeCounts>(
    `SELECT
       count(*) FILTER (WHERE before.id IS NULL AND c.first_seen_at = $2)::int AS "customersAdded",
       count(*) FILTER (WHERE opened.removed)::int AS "customersRemoved",
       count(*) FILTER (WHERE NOT opened.removed AND before.removed)::int AS "customersRestored",
       count(*) FILTER (WHERE NOT opened.removed AND NOT before.removed)::int AS "statusChanges"
     FROM customer_status_history opened
     JOIN customers c ON c.id = opened.customer_id
     LEFT JOIN customer_status_history before
       ON before.customer_id = opened.customer_id AND before.closed_by_run_id = $1
     WHERE opened.customer_id = ANY($3::text[]) AND opened.valid_to IS NULL
       AND opened.opened_by_run_id = $1`,
    [runId, observedAt, ids],
  );
  return rows[0] ?? NO_CHANGES;
}

/**
 * Customers present before the run that it has not seen (merged), in id order: those a
 * complete run asks the API for before marking them removed.
 */
export async function listUnseen(session: Session, { observedAt }: MergeInput): Promise<string[]> {
  const { rows } = await session.query<{ id: string }>(
    `SELECT id FROM customers WHERE removed_at IS NULL AND last_seen_at < $1 ORDER BY id`,
    [observedAt],
  );
  return rows.map((row) => row.id);
}

/**
 * The end of a complete run: every present customer it did not see is removed with its
 * tenants, as are tenants its customers no longer list. Returns how many customers.
 * `unseen`: how many such customers there are (0 skips the scan for them).
 */
export async function removeUnseen(
  session: Session,
  { runId, observedAt }: MergeInput,
  unseen: number,
): Promise<number> {
  const params = [runId, observedAt];
  let removed = 0;
  if (unseen > 0) {
    const result = await session.query(
      `CREATE TEMP TABLE merge_removed ON COMMIT DROP AS
       SELECT id FROM customers WHERE removed_at IS NULL AND last_seen_at < $1`,
      [observedAt],
    );
    removed = result.rowCount ?? 0;
    await removeCustomers(session, params);
    // Their present tenants go with them.
    await session.query(
      `INSERT INTO merge_dropped_tenants (customer_id, tenant_id)
       SELECT t.customer_id, t.id FROM tenants t JOIN merge_removed r ON r.id = t.customer_id
       WHERE t.removed_at IS NULL
       ON CONFLICT DO NOTHING`,
    );
  }
  await removeTenants(session, params);
  return removed;
}

/** Customers in merge_removed: periods closed, removed periods opened with their last attributes. */
async function removeCustomers(session: Session, params: unknown[]) {
  await session.query(
    `UPDATE customer_status_history h SET valid_to = $2, closed_by_run_id = $1
     FROM merge_removed r WHERE h.customer_id = r.id AND h.valid_to IS NULL`,
    params,
  );
  await session.query(
    `INSERT INTO customer_status_history
       (customer_id, job_status, management_mode, removed, valid_from, opened_by_run_id)
     SELECT c.id, c.job_status, c.management_mode, true, $2, $1
     FROM merge_removed r JOIN customers c ON c.id = r.id
     ORDER BY c.id`,
    params,
  );
  await session.query(
    `UPDATE customer_history h SET valid_to = $2, closed_by_run_id = $1
     FROM merge_removed r WHERE h.customer_id = r.id AND h.valid_to IS NULL`,
    params,
  );
  await session.query(
    `INSERT INTO customer_history
       (customer_id, organization, owner_email, country_or_region, job_status, management_mode,
        removed, valid_from, opened_by_run_id)
     SELECT c.id, c.organization, c.owner_email, c.country_or_region, c.job_status,
            c.management_mode, true, $2, $1
     FROM merge_removed r JOIN customers c ON c.id = r.id
     ORDER BY c.id`,
    params,
  );
  await session.query(
    `UPDATE customers c SET removed_at = $1 FROM merge_removed r WHERE c.id = r.id`,
    [params[1]],
  );
}

/** Tenants in merge_dropped_tenants: removed under their last name. */
async function removeTenants(session: Session, params: unknown[]) {
  const { rows } = await session.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM merge_dropped_tenants",
  );
  if ((rows[0]?.n ?? 0) === 0) return;
  await session.query(
    `UPDATE tenant_history h SET valid_to = $2, closed_by_run_id = $1
     FROM merge_dropped_tenants d
     WHERE h.customer_id = d.customer_id AND h.tenant_id = d.tenant_id AND h.valid_to IS NULL
       AND NOT h.removed`,
    params,
  );
  await session.query(
    `INSERT INTO tenant_history (customer_id, tenant_id, name, removed, valid_from, opened_by_run_id)
     SELECT t.customer_id, t.id, t.name, true, $2, $1
     FROM merge_dropped_tenants d JOIN tenants t ON t.customer_id = d.customer_id AND t.id = d.tenant_id
     WHERE t.removed_at IS NULL
     ORDER BY t.customer_id, t.id`,
    params,
  );
  await session.query(
    `UPDATE tenants t SET removed_at = $1
     FROM merge_dropped_tenants d
     WHERE t.customer_id = d.customer_id AND t.id = d.tenant_id AND t.removed_at IS NULL`,
    [params[1]],
  );
}
