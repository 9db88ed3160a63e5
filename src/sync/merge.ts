// The merge: one transaction that turns a run's staging rows into the new state of
// customers, tenants and their histories (customer_status_history, customer_history,
// tenant_history), with set-based statements only.
//
// The idea: compute each affected customer's and tenant's *desired* state after this run
// (seen: what was fetched; absent from a complete run: removed, with its last known
// attributes), then close every open history period that differs from it and open a
// period wherever none is open. That keeps the history invariants by construction: one
// open period per entity, no gaps (a period closes at the instant the next opens), no two
// equal in a row.
import type { Prisma } from "../generated/prisma/client.ts";

type Tx = Prisma.TransactionClient;

export interface MergeInput {
  runId: number;
  /** The instant this run observed the data; stamps periods, first/last seen and removals. */
  observedAt: Date;
  /** Only a complete run may conclude that what it did not see has been removed. */
  removeAbsent: boolean;
  /** Tenants in staging (the run counted them already): all known means nothing to insert. */
  stagedTenants: number;
}

export interface MergeCounts {
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
}

export async function mergeStaging(tx: Tx, input: MergeInput): Promise<MergeCounts> {
  await prepare(tx);
  await buildDesiredState(tx, input);
  const counts = await countChanges(tx);
  await closeChangedPeriods(tx, input);
  const customerChanges = await findCustomerHistoryChanges(tx);
  const tenantChanges = await findTenantHistoryChanges(tx, input);
  if (customerChanges > 0) await closeChangedCustomerHistory(tx, input);
  if (tenantChanges > 0) await closeChangedTenantHistory(tx, input);
  // On a re-run every staged row usually exists already: then there is nothing to insert.
  await updateSeenCustomers(tx, input);
  if (counts.customersAdded > 0) await insertNewCustomers(tx, input);
  await markAbsentCustomersRemoved(tx, input);
  await openNewPeriods(tx, input);
  if (customerChanges > 0) await openCustomerHistory(tx, input);
  if ((await updateSeenTenants(tx, input)) < input.stagedTenants) await insertNewTenants(tx, input);
  if (input.removeAbsent) await markAbsentTenantsRemoved(tx, input);
  if (tenantChanges > 0) await openTenantHistory(tx, input);
  return counts;
}

/**
 * Staging tables are filled moments before the merge, so autovacuum has not analyzed them:
 * without statistics the planner takes 100,000 staged rows for a handful and picks nested
 * loops. Hash joins over whole tables also want more memory than the default work_mem.
 */
async function prepare(tx: Tx): Promise<void> {
  await tx.$executeRaw`SET LOCAL work_mem = '64MB'`;
  // Row counts are what matters here; a small sample gets them in milliseconds, not 300 ms.
  await tx.$executeRaw`SET LOCAL default_statistics_target = 10`;
  await tx.$executeRaw`ANALYZE staging_customers, staging_tenants`;
  // The histories too: after a first run autovacuum may not have analyzed them yet, and the
  // planner, taking their open periods for a hundred, probed indexes once per tenant (0.5 s
  // of an unchanged re-run at 20,000 customers instead of 0.1 s). A sample of 3,000 rows
  // takes milliseconds however long the history.
  await tx.$executeRaw`ANALYZE customer_history, tenant_history`;
}

async function buildDesiredState(tx: Tx, { runId, removeAbsent }: MergeInput): Promise<void> {
  // No key: staging's primary key already makes customer_id unique, and every use is a hash join.
  await tx.$executeRaw`
    CREATE TEMP TABLE merge_desired (
      customer_id text NOT NULL,
      organization text,
      owner_email text,
      country_or_region text,
      job_status int NOT NULL,
      management_mode int NOT NULL,
      removed boolean NOT NULL
    ) ON COMMIT DROP`;
  await tx.$executeRaw`
    INSERT INTO merge_desired (customer_id, organization, owner_email, country_or_region,
                               job_status, management_mode, removed)
    SELECT s.id, s.organization, s.owner_email, s.country_or_region,
           s.job_status, s.management_mode, false
    FROM staging_customers s
    WHERE s.run_id = ${runId}::int
    UNION ALL
    -- Present customers this (complete) run did not see keep their last attributes, now removed.
    SELECT c.id, c.organization, c.owner_email, c.country_or_region,
           c.job_status, c.management_mode, true
    FROM customers c
    WHERE ${removeAbsent}::boolean
      AND c.removed_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging_customers s WHERE s.run_id = ${runId}::int AND s.id = c.id)`;
  // Temporary tables get no statistics unless asked; the joins below need them at scale.
  await tx.$executeRaw`ANALYZE merge_desired`;
}

async function countChanges(tx: Tx): Promise<MergeCounts> {
  const [row] = await tx.$queryRaw<MergeCounts[]>`
    SELECT
      count(*) FILTER (WHERE c.id IS NULL)::int AS "customersAdded",
      count(*) FILTER (WHERE d.removed)::int AS "customersRemoved",
      count(*) FILTER (WHERE NOT d.removed AND c.removed_at IS NOT NULL)::int AS "customersRestored",
      count(*) FILTER (
        WHERE NOT d.removed AND c.id IS NOT NULL AND c.removed_at IS NULL
          AND (c.job_status, c.management_mode) IS DISTINCT FROM (d.job_status, d.management_mode)
      )::int AS "statusChanges"
    FROM merge_desired d
    LEFT JOIN customers c ON c.id = d.customer_id`;
  if (!row) throw new Error("merge: change counts query returned no row");
  return row;
}

async function closeChangedPeriods(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    UPDATE customer_status_history h
    SET valid_to = ${observedAt}, closed_by_run_id = ${runId}::int
    FROM merge_desired d
    WHERE h.customer_id = d.customer_id
      AND h.valid_to IS NULL
      AND (h.job_status, h.management_mode, h.removed)
          IS DISTINCT FROM (d.job_status, d.management_mode, d.removed)`;
}

/**
 * The customers whose customer_history changes: new ones, and those whose open period
 * differs from the desired state in any tracked attribute (with that period's id, to close).
 * Kept apart so that an unchanged re-run, which finds none, writes no history row.
 * Returns how many.
 */
async function findCustomerHistoryChanges(tx: Tx): Promise<number> {
  // CREATE TABLE AS reports the rows it wrote.
  return tx.$executeRaw`
    CREATE TEMP TABLE merge_customer_changes ON COMMIT DROP AS
    SELECT d.*, h.id AS open_period_id
    FROM merge_desired d
    LEFT JOIN customer_history h ON h.customer_id = d.customer_id AND h.valid_to IS NULL
    WHERE h.id IS NULL
       OR (h.organization, h.owner_email, h.country_or_region,
           h.job_status, h.management_mode, h.removed)
          IS DISTINCT FROM (d.organization, d.owner_email, d.country_or_region,
                            d.job_status, d.management_mode, d.removed)`;
}

/**
 * The tenants whose tenant_history changes: staged tenants that are new, renamed or back,
 * and (for a complete run) present tenants it did not see, now removed under their last
 * name; the same tenants markAbsentTenantsRemoved marks removed. Returns how many.
 */
async function findTenantHistoryChanges(
  tx: Tx,
  { runId, removeAbsent }: MergeInput,
): Promise<number> {
  return tx.$executeRaw`
    CREATE TEMP TABLE merge_tenant_changes ON COMMIT DROP AS
    SELECT s.customer_id, s.id AS tenant_id, s.name, false AS removed, h.id AS open_period_id
    FROM staging_tenants s
    LEFT JOIN tenant_history h
      ON h.customer_id = s.customer_id AND h.tenant_id = s.id AND h.valid_to IS NULL
    WHERE s.run_id = ${runId}::int
      AND (h.id IS NULL OR h.removed OR h.name IS DISTINCT FROM s.name)
    UNION ALL
    -- Present tenants are those whose open period is not removed (the open period agrees
    -- with the tenants row), so the history alone answers.
    SELECT h.customer_id, h.tenant_id, h.name, true, h.id
    FROM tenant_history h
    WHERE ${removeAbsent}::boolean
      AND h.valid_to IS NULL
      AND NOT h.removed
      AND NOT EXISTS (
        SELECT 1 FROM staging_tenants s
        WHERE s.run_id = ${runId}::int AND s.customer_id = h.customer_id AND s.id = h.tenant_id
      )`;
}

async function closeChangedCustomerHistory(
  tx: Tx,
  { runId, observedAt }: MergeInput,
): Promise<void> {
  await tx.$executeRaw`
    UPDATE customer_history h
    SET valid_to = ${observedAt}, closed_by_run_id = ${runId}::int
    FROM merge_customer_changes x
    WHERE h.id = x.open_period_id`;
}

async function closeChangedTenantHistory(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    UPDATE tenant_history h
    SET valid_to = ${observedAt}, closed_by_run_id = ${runId}::int
    FROM merge_tenant_changes x
    WHERE h.id = x.open_period_id`;
}

/** After the customers are written (the periods reference them). */
async function openCustomerHistory(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO customer_history
      (customer_id, organization, owner_email, country_or_region, job_status, management_mode,
       removed, valid_from, opened_by_run_id)
    SELECT x.customer_id, x.organization, x.owner_email, x.country_or_region, x.job_status,
           x.management_mode, x.removed, ${observedAt}, ${runId}::int
    FROM merge_customer_changes x
    ORDER BY x.customer_id`;
}

/** After the tenants are written (the periods reference them). */
async function openTenantHistory(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO tenant_history
      (customer_id, tenant_id, name, removed, valid_from, opened_by_run_id)
    SELECT x.customer_id, x.tenant_id, x.name, x.removed, ${observedAt}, ${runId}::int
    FROM merge_tenant_changes x
    ORDER BY x.customer_id, x.tenant_id`;
}

// Seen rows are written with an UPDATE joined to staging and an INSERT of the rest rather
// than INSERT ... ON CONFLICT: on a re-run nearly every row conflicts, and one hash join
// beats a speculative insertion and an index probe per row. One run at a time (the sync
// lock) means no row can appear between the two statements.
async function updateSeenCustomers(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    UPDATE customers c SET
      organization = s.organization,
      owner_email = s.owner_email,
      job_status = s.job_status,
      country_or_region = s.country_or_region,
      management_mode = s.management_mode,
      source_record = s.source_record,
      last_seen_at = ${observedAt},
      removed_at = NULL
    FROM staging_customers s
    WHERE s.run_id = ${runId}::int AND c.id = s.id`;
}

async function insertNewCustomers(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO customers (id, organization, owner_email, job_status, country_or_region,
                           management_mode, first_seen_at, last_seen_at, removed_at,
                           source_record)
    SELECT s.id, s.organization, s.owner_email, s.job_status, s.country_or_region,
           s.management_mode, ${observedAt}, ${observedAt}, NULL, s.source_record
    FROM staging_customers s
    WHERE s.run_id = ${runId}::int
      AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.id)
    -- In key order, index inserts and foreign-key checks walk the indexes instead of jumping.
    ORDER BY s.id`;
}

async function markAbsentCustomersRemoved(tx: Tx, { observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    UPDATE customers c
    SET removed_at = ${observedAt}
    FROM merge_desired d
    WHERE d.removed AND c.id = d.customer_id`;
}

async function openNewPeriods(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  // After closeChangedPeriods, a customer has no open period exactly when it is new or changed.
  await tx.$executeRaw`
    INSERT INTO customer_status_history
      (customer_id, job_status, management_mode, removed, valid_from, opened_by_run_id)
    SELECT d.customer_id, d.job_status, d.management_mode, d.removed, ${observedAt}, ${runId}::int
    FROM merge_desired d
    WHERE NOT EXISTS (
      SELECT 1 FROM customer_status_history h
      WHERE h.customer_id = d.customer_id AND h.valid_to IS NULL
    )
    ORDER BY d.customer_id`;
}

/** Returns how many tenants it updated. */
async function updateSeenTenants(tx: Tx, { runId, observedAt }: MergeInput): Promise<number> {
  return tx.$executeRaw`
    UPDATE tenants t SET
      name = s.name,
      last_seen_at = ${observedAt},
      removed_at = NULL
    FROM staging_tenants s
    WHERE s.run_id = ${runId}::int AND t.customer_id = s.customer_id AND t.id = s.id`;
}

async function insertNewTenants(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO tenants (customer_id, id, name, first_seen_at, last_seen_at, removed_at)
    SELECT s.customer_id, s.id, s.name, ${observedAt}, ${observedAt}, NULL
    FROM staging_tenants s
    WHERE s.run_id = ${runId}::int
      AND NOT EXISTS (
        SELECT 1 FROM tenants t WHERE t.customer_id = s.customer_id AND t.id = s.id
      )
    ORDER BY s.customer_id, s.id`;
}

/**
 * Every tenant this run saw now has last_seen_at = observedAt, later than any earlier
 * run's: the present ones with an older last_seen_at are exactly those it did not see.
 */
async function markAbsentTenantsRemoved(tx: Tx, { observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    UPDATE tenants
    SET removed_at = ${observedAt}
    WHERE removed_at IS NULL AND last_seen_at < ${observedAt}`;
}
