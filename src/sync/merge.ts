// The merge: one transaction that turns a run's staging rows into the new state of
// customers, tenants and customer_status_history, with set-based statements only.
//
// The idea: compute each affected customer's *desired* state after this run (seen:
// its fetched status; absent from a complete run: removed), then close every open
// history period that differs from it and open a period wherever none is open.
// That keeps the history invariants by construction: one open period per customer,
// no gaps (a period closes at the instant the next opens), no two equal in a row.
import type { Prisma } from "../generated/prisma/client.ts";

type Tx = Prisma.TransactionClient;

export interface MergeInput {
  runId: number;
  /** The instant this run observed the data; stamps periods, first/last seen and removals. */
  observedAt: Date;
  /** Only a complete run may conclude that what it did not see has been removed. */
  removeAbsent: boolean;
}

export interface MergeCounts {
  customersAdded: number;
  customersRemoved: number;
  customersRestored: number;
  statusChanges: number;
}

export async function mergeStaging(tx: Tx, input: MergeInput): Promise<MergeCounts> {
  await buildDesiredState(tx, input);
  const counts = await countChanges(tx);
  await closeChangedPeriods(tx, input);
  await upsertSeenCustomers(tx, input);
  await markAbsentCustomersRemoved(tx, input);
  await openNewPeriods(tx, input);
  await upsertSeenTenants(tx, input);
  if (input.removeAbsent) await markAbsentTenantsRemoved(tx, input);
  return counts;
}

async function buildDesiredState(tx: Tx, { runId, removeAbsent }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    CREATE TEMP TABLE merge_desired (
      customer_id text PRIMARY KEY,
      job_status int NOT NULL,
      management_mode int NOT NULL,
      removed boolean NOT NULL
    ) ON COMMIT DROP`;
  await tx.$executeRaw`
    INSERT INTO merge_desired (customer_id, job_status, management_mode, removed)
    SELECT s.id, s.job_status, s.management_mode, false
    FROM staging_customers s
    WHERE s.run_id = ${runId}::int
    UNION ALL
    -- Present customers this (complete) run did not see keep their last status, now removed.
    SELECT c.id, c.job_status, c.management_mode, true
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

async function upsertSeenCustomers(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO customers AS c (id, organization, owner_email, job_status, country_or_region,
                                management_mode, first_seen_at, last_seen_at, removed_at)
    SELECT s.id, s.organization, s.owner_email, s.job_status, s.country_or_region,
           s.management_mode, ${observedAt}, ${observedAt}, NULL
    FROM staging_customers s
    WHERE s.run_id = ${runId}::int
    ON CONFLICT (id) DO UPDATE SET
      organization = EXCLUDED.organization,
      owner_email = EXCLUDED.owner_email,
      job_status = EXCLUDED.job_status,
      country_or_region = EXCLUDED.country_or_region,
      management_mode = EXCLUDED.management_mode,
      last_seen_at = EXCLUDED.last_seen_at,
      removed_at = NULL`;
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
    )`;
}

async function upsertSeenTenants(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO tenants AS t (customer_id, id, name, first_seen_at, last_seen_at, removed_at)
    SELECT s.customer_id, s.id, s.name, ${observedAt}, ${observedAt}, NULL
    FROM staging_tenants s
    WHERE s.run_id = ${runId}::int
    ON CONFLICT (customer_id, id) DO UPDATE SET
      name = EXCLUDED.name,
      last_seen_at = EXCLUDED.last_seen_at,
      removed_at = NULL`;
}

async function markAbsentTenantsRemoved(tx: Tx, { runId, observedAt }: MergeInput): Promise<void> {
  await tx.$executeRaw`
    UPDATE tenants t
    SET removed_at = ${observedAt}
    WHERE t.removed_at IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM staging_tenants s
        WHERE s.run_id = ${runId}::int AND s.customer_id = t.customer_id AND s.id = t.id
      )`;
}
