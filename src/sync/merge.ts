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
import { customerColumns, dedupeById, type AcceptedRecord } from "./records.ts";
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
  /** Tenants the batch adds to those the run has seen (a customer seen again replaces its list). */
  tenantsSeen: number;
}

/**
 * Merges a batch of staged customers, each once, with its tenants. The batch's rows travel
 * as array parameters, not read back from staging: staging goes on changing meanwhile (a
 * customer served again replaces its row there), and every statement of a batch must see
 * the same rows. Each row is first compared with what is stored (one index lookup per
 * table), so that each statement writes only what changes: an unchanged batch moves
 * last_seen_at and writes no history; a new customer is inserted with no lookup wasted.
 */
export async function mergeBatch(
  session: Session,
  input: MergeInput,
  records: readonly AcceptedRecord[],
): Promise<BatchResult> {
  const customers = dedupeById(records);
  let stored = await compareCustomers(session, input, customers);
  const again = customers.filter((_, i) => stored[i]?.again).map((c) => c.id);
  const presentSeen = stored.filter((c) => c.present && !c.again).length;
  let counts = countChanges(stored);
  let tenantsSeen = 0;
  if (again.length > 0) {
    // Merged already by this run: its earlier copy's effects are taken back, counts included.
    counts = addCounts(counts, await countOpened(session, input, again), -1);
    tenantsSeen -= await countSeenTenants(session, input, again);
    await undoRun(session, input, again);
    stored = await compareCustomers(session, input, customers);
  }
  await writeCustomers(session, input, customers, stored);
  await writeCustomerPeriods(session, input, customers, stored);
  const tenants = customers.flatMap((c) =>
    dedupeById(c.tenants).map((t) => ({ customerId: c.id, id: t.id, name: t.name })),
  );
  tenantsSeen += tenants.length;
  const storedTenants = await compareTenants(session, tenants);
  await writeTenants(session, input, tenants, storedTenants);
  await noteDroppedTenants(session, input, customers, tenants, again);
  if (again.length > 0) counts = addCounts(counts, await countOpened(session, input, again));
  return { counts, presentSeen, tenantsSeen };
}

/** Tenants of customers `ids` this run has seen (before it merges them again). */
async function countSeenTenants(
  session: Session,
  { observedAt }: MergeInput,
  ids: readonly string[],
): Promise<number> {
  const { rows } = await session.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM tenants WHERE customer_id = ANY($1::text[]) AND last_seen_at = $2",
    [ids, observedAt],
  );
  return rows[0]?.n ?? 0;
}

/** How a customer of the batch compares with what is stored. */
interface StoredCustomer {
  /** Has a customers row. */
  known: boolean;
  /** ...that is not removed. */
  present: boolean;
  /** ...that this run merged already (its last_seen_at is this run's instant). */
  again: boolean;
  /** Its open customer_status_history period differs from the batch's copy (or there is none). */
  statusChanged: boolean;
  /** That period's id, null when there is none. */
  statusPeriod: string | null;
  /** Its open customer_history period differs from the batch's copy (or there is none). */
  changed: boolean;
  period: string | null;
}

/** The batch's customers, from parameters $1 to $6 (then $7, $8 … for the statement's own). */
const BATCH_CUSTOMERS = `ROWS FROM (
    unnest($1::text[]), unnest($2::text[]), unnest($3::text[]),
    unnest($4::int[]), unnest($5::text[]), unnest($6::int[])
  ) WITH ORDINALITY AS s(id, organization, owner_email, job_status, country_or_region,
                         management_mode, n)`;

/** BATCH_CUSTOMERS with the records as sent, zipped by position from the JSON array $8. */
const BATCH_CUSTOMERS_AS_SENT = `ROWS FROM (
    unnest($1::text[]), unnest($2::text[]), unnest($3::text[]),
    unnest($4::int[]), unnest($5::text[]), unnest($6::int[]),
    jsonb_array_elements($8::jsonb)
  ) AS s(id, organization, owner_email, job_status, country_or_region, management_mode,
         source_record)`;

async function compareCustomers(
  session: Session,
  { observedAt }: MergeInput,
  customers: readonly AcceptedRecord[],
): Promise<StoredCustomer[]> {
  const { rows } = await session.query<StoredCustomer>(
    // LATERAL lookups fenced with OFFSET 0 (kept from being flattened into joins): one
    // index probe per row of the batch, however stale the statistics.
    `SELECT c.id IS NOT NULL AS known,
            c.removed_at IS NULL AND c.id IS NOT NULL AS present,
            c.last_seen_at IS NOT DISTINCT FROM $7 AS again,
            st.id::text AS "statusPeriod",
            (st.job_status, st.management_mode, st.removed)
              IS DISTINCT FROM (s.job_status, s.management_mode, false) AS "statusChanged",
            h.id::text AS period,
            (h.organization, h.owner_email, h.country_or_region,
             h.job_status, h.management_mode, h.removed)
              IS DISTINCT FROM (s.organization, s.owner_email, s.country_or_region,
                                s.job_status, s.management_mode, false) AS changed
     FROM ${BATCH_CUSTOMERS}
     LEFT JOIN LATERAL (SELECT * FROM customers c WHERE c.id = s.id OFFSET 0) c ON true
     LEFT JOIN LATERAL (
       SELECT * FROM customer_status_history st
       WHERE st.customer_id = s.id AND st.valid_to IS NULL OFFSET 0
     ) st ON true
     LEFT JOIN LATERAL (
       SELECT * FROM customer_history h
       WHERE h.customer_id = s.id AND h.valid_to IS NULL OFFSET 0
     ) h ON true
     ORDER BY s.n`,
    [...customerColumns(customers), observedAt],
  );
  return rows;
}

/** What the batch changes, for the run's counts; customers merged again are counted apart. */
function countChanges(stored: readonly StoredCustomer[]): MergeCounts {
  const counted = stored.filter((c) => !c.again);
  return {
    customersAdded: counted.filter((c) => !c.known).length,
    customersRemoved: 0,
    customersRestored: counted.filter((c) => c.known && !c.present).length,
    statusChanges: counted.filter((c) => c.present && c.statusChanged).length,
  };
}

/** Updates the known customers (seen now, attributes as sent) and inserts the rest. */
async function writeCustomers(
  session: Session,
  { observedAt }: MergeInput,
  customers: readonly AcceptedRecord[],
  stored: readonly StoredCustomer[],
): Promise<void> {
  const known = customers.filter((_, i) => stored[i]?.known);
  const fresh = customers.filter((_, i) => !stored[i]?.known);
  if (known.length > 0) {
    await session.query(
      `UPDATE customers c SET
         organization = s.organization,
         owner_email = s.owner_email,
         job_status = s.job_status,
         country_or_region = s.country_or_region,
         management_mode = s.management_mode,
         -- Kept as stored when unchanged: a large record then keeps its TOAST copy.
         source_record = CASE WHEN c.source_record IS DISTINCT FROM s.source_record
                              THEN s.source_record ELSE c.source_record END,
         last_seen_at = $7,
         removed_at = NULL
       FROM ${BATCH_CUSTOMERS_AS_SENT}
       WHERE c.id = s.id`,
      [...customerColumns(known), observedAt, sourceRecordsJson(known)],
    );
  }
  if (fresh.length > 0) {
    await session.query(
      `INSERT INTO customers (id, organization, owner_email, job_status, country_or_region,
                             management_mode, first_seen_at, last_seen_at, removed_at,
                             source_record)
       SELECT s.id, s.organization, s.owner_email, s.job_status, s.country_or_region,
              s.management_mode, $7, $7, NULL, s.source_record
       FROM ${BATCH_CUSTOMERS_AS_SENT}
       -- In key order, index inserts walk the indexes instead of jumping.
       ORDER BY s.id`,
      [...customerColumns(fresh), observedAt, sourceRecordsJson(fresh)],
    );
  }
}

/**
 * Closes the open periods that differ from the batch's copies and opens theirs, in
 * customer_status_history and customer_history. After writeCustomers: periods reference it.
 */
async function writeCustomerPeriods(
  session: Session,
  input: MergeInput,
  customers: readonly AcceptedRecord[],
  stored: readonly StoredCustomer[],
): Promise<void> {
  const { runId, observedAt } = input;
  const statusChanged = customers.filter((_, i) => stored[i]?.statusChanged);
  const changed = customers.filter((_, i) => stored[i]?.changed);
  await closePeriods(
    session,
    "customer_status_history",
    input,
    stored.filter((c) => c.statusChanged).map((c) => c.statusPeriod),
  );
  await closePeriods(
    session,
    "customer_history",
    input,
    stored.filter((c) => c.changed).map((c) => c.period),
  );
  if (statusChanged.length > 0) {
    await session.query(
      `INSERT INTO customer_status_history
         (customer_id, job_status, management_mode, removed, valid_from, opened_by_run_id)
       SELECT s.id, s.job_status, s.management_mode, false, $7, $8
       FROM ${BATCH_CUSTOMERS}
       ORDER BY s.id`,
      [...customerColumns(statusChanged), observedAt, runId],
    );
  }
  if (changed.length > 0) {
    await session.query(
      `INSERT INTO customer_history
         (customer_id, organization, owner_email, country_or_region, job_status,
          management_mode, removed, valid_from, opened_by_run_id)
       SELECT s.id, s.organization, s.owner_email, s.country_or_region, s.job_status,
              s.management_mode, false, $7, $8
       FROM ${BATCH_CUSTOMERS}
       ORDER BY s.id`,
      [...customerColumns(changed), observedAt, runId],
    );
  }
}

/** Closes the open periods `ids` (nulls, for entities with none, are skipped) of `table`. */
async function closePeriods(
  session: Session,
  table: "customer_status_history" | "customer_history" | "tenant_history",
  { runId, observedAt }: MergeInput,
  ids: readonly (string | null)[],
): Promise<void> {
  const open = ids.filter((id) => id !== null);
  if (open.length === 0) return;
  await session.query(
    `UPDATE ${table} SET valid_to = $1, closed_by_run_id = $2 WHERE id = ANY($3::bigint[])`,
    [observedAt, runId, open],
  );
}

interface BatchTenant {
  customerId: string;
  id: string;
  name: string | null;
}

/** How a tenant of the batch compares with what is stored. */
interface StoredTenant {
  known: boolean;
  /** Its open tenant_history period's id, null when there is none. */
  period: string | null;
  /** New, renamed or back (its open period differs, or there is none). */
  changed: boolean;
}

/** The batch's tenants, from parameters $1 to $3. */
const BATCH_TENANTS = `unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
  AS s(customer_id, id, name, n)`;

function tenantColumns(tenants: readonly BatchTenant[]): unknown[] {
  return [tenants.map((t) => t.customerId), tenants.map((t) => t.id), tenants.map((t) => t.name)];
}

async function compareTenants(
  session: Session,
  tenants: readonly BatchTenant[],
): Promise<StoredTenant[]> {
  if (tenants.length === 0) return [];
  const { rows } = await session.query<StoredTenant>(
    // Every tenant ever seen has exactly one open period, so the period alone says
    // whether its tenants row exists. (Fenced with OFFSET 0 as in compareCustomers.)
    `SELECT h.id IS NOT NULL AS known,
            h.id::text AS period,
            h.id IS NULL OR h.removed OR h.name IS DISTINCT FROM s.name AS changed
     FROM ${BATCH_TENANTS}
     LEFT JOIN LATERAL (
       SELECT * FROM tenant_history h
       WHERE h.customer_id = s.customer_id AND h.tenant_id = s.id AND h.valid_to IS NULL
       OFFSET 0
     ) h ON true
     ORDER BY s.n`,
    tenantColumns(tenants),
  );
  return rows;
}

/** The tenants rows (updated or inserted), then their tenant_history periods. */
async function writeTenants(
  session: Session,
  input: MergeInput,
  tenants: readonly BatchTenant[],
  stored: readonly StoredTenant[],
): Promise<void> {
  const { runId, observedAt } = input;
  const known = tenants.filter((_, i) => stored[i]?.known);
  const fresh = tenants.filter((_, i) => !stored[i]?.known);
  const changed = tenants.filter((_, i) => stored[i]?.changed);
  if (known.length > 0) {
    await session.query(
      `UPDATE tenants t SET name = s.name, last_seen_at = $4, removed_at = NULL
       FROM ${BATCH_TENANTS}
       WHERE t.customer_id = s.customer_id AND t.id = s.id`,
      [...tenantColumns(known), observedAt],
    );
  }
  if (fresh.length > 0) {
    await session.query(
      `INSERT INTO tenants (customer_id, id, name, first_seen_at, last_seen_at, removed_at)
       SELECT s.customer_id, s.id, s.name, $4, $4, NULL
       FROM ${BATCH_TENANTS}
       ORDER BY s.customer_id, s.id`,
      [...tenantColumns(fresh), observedAt],
    );
  }
  await closePeriods(
    session,
    "tenant_history",
    input,
    stored.filter((t) => t.changed).map((t) => t.period),
  );
  if (changed.length > 0) {
    await session.query(
      `INSERT INTO tenant_history
         (customer_id, tenant_id, name, removed, valid_from, opened_by_run_id)
       SELECT s.customer_id, s.id, s.name, false, $4, $5
       FROM ${BATCH_TENANTS}
       ORDER BY s.customer_id, s.id`,
      [...tenantColumns(changed), observedAt, runId],
    );
  }
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

/**
 * Present tenants the batch's customers no longer list: after writeTenants, those whose
 * last_seen_at is older than this run's. A customer merged again may have tenants only its
 * earlier copy listed: for `again`, tenants seen now are checked against the batch itself.
 */
async function noteDroppedTenants(
  session: Session,
  { observedAt }: MergeInput,
  customers: readonly AcceptedRecord[],
  tenants: readonly BatchTenant[],
  again: readonly string[],
) {
  await session.query(
    `INSERT INTO merge_dropped_tenants (customer_id, tenant_id)
     SELECT t.customer_id, t.id
     FROM tenants t
     WHERE t.customer_id = ANY($1::text[]) AND t.removed_at IS NULL AND t.last_seen_at < $2`,
    [customers.map((c) => c.id), observedAt],
  );
  if (again.length === 0) return;
  await session.query(
    `INSERT INTO merge_dropped_tenants (customer_id, tenant_id)
     SELECT t.customer_id, t.id
     FROM tenants t
     WHERE t.customer_id = ANY($4::text[]) AND t.removed_at IS NULL AND t.last_seen_at = $5
       AND (t.customer_id, t.id) NOT IN (SELECT s.customer_id, s.id FROM ${BATCH_TENANTS})`,
    [...tenantColumns(tenants), again, observedAt],
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
  const { rows } = await withSeqScans(session, () =>
    session.query<{ id: string }>(
      `SELECT id FROM customers WHERE removed_at IS NULL AND last_seen_at < $1 ORDER BY id`,
      [observedAt],
    ),
  );
  return rows.map((row) => row.id);
}

/**
 * Runs `fn` with sequential scans allowed: the run's transaction forbids them for its
 * batches (run-merge.ts), but reading every customer is what a scan is for.
 */
async function withSeqScans<T>(session: Session, fn: () => Promise<T>): Promise<T> {
  await session.query("SET LOCAL enable_seqscan = on");
  try {
    return await fn();
  } finally {
    await session.query("SET LOCAL enable_seqscan = off");
  }
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
  // Whole-table work from here on: the planner's own choices (hash joins, scans) again.
  for (const setting of ["enable_seqscan", "enable_hashjoin", "enable_mergejoin"]) {
    await session.query(`SET LOCAL ${setting} = on`);
  }
  let removed = 0;
  if (unseen > 0) {
    const result = await withSeqScans(session, () =>
      session.query(
        `CREATE TEMP TABLE merge_removed ON COMMIT DROP AS
         SELECT id FROM customers WHERE removed_at IS NULL AND last_seen_at < $1`,
        [observedAt],
      ),
    );
    removed = result.rowCount ?? 0;
    await session.query("ANALYZE merge_removed");
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
  await session.query("ANALYZE merge_dropped_tenants");
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
