// Staging: each fetched page is written to staging_customers / staging_tenants under the
// run's id as soon as it arrives, so memory stays flat and the merge can be one set-based
// transaction at the end. Staging rows are scratch: removed when the run ends.
import type { PrismaClient } from "../db.ts";
import type { CustomerRecord } from "../elements/payload.ts";

/** Last record wins for a customer seen twice (offset paging can repeat one across pages). */
function dedupeById<T extends { id: string }>(records: readonly T[]): T[] {
  return [...new Map(records.map((record) => [record.id, record])).values()];
}

export async function stageCustomers(
  prisma: PrismaClient,
  runId: number,
  records: readonly CustomerRecord[],
): Promise<void> {
  const customers = dedupeById(records);
  if (customers.length === 0) return;
  const tenants = customers.flatMap((customer) =>
    dedupeById(customer.tenants).map((tenant) => ({ customerId: customer.id, ...tenant })),
  );
  const customerIds = customers.map((c) => c.id);

  await prisma.$transaction([
    prisma.$executeRaw`
      INSERT INTO staging_customers
        (run_id, id, organization, owner_email, job_status, country_or_region, management_mode)
      SELECT ${runId}::int, s.*
      FROM unnest(
        ${customerIds}::text[],
        ${customers.map((c) => c.organization)}::text[],
        ${customers.map((c) => c.ownerEmail)}::text[],
        ${customers.map((c) => c.jobStatus)}::int[],
        ${customers.map((c) => c.countryOrRegion)}::text[],
        ${customers.map((c) => c.managementMode)}::int[]
      ) AS s
      ON CONFLICT (run_id, id) DO UPDATE SET
        organization = EXCLUDED.organization,
        owner_email = EXCLUDED.owner_email,
        job_status = EXCLUDED.job_status,
        country_or_region = EXCLUDED.country_or_region,
        management_mode = EXCLUDED.management_mode`,
    // A customer seen again replaces its tenant list rather than adding to it.
    prisma.$executeRaw`
      DELETE FROM staging_tenants
      WHERE run_id = ${runId}::int AND customer_id = ANY(${customerIds}::text[])`,
    prisma.$executeRaw`
      INSERT INTO staging_tenants (run_id, customer_id, id, name)
      SELECT ${runId}::int, s.*
      FROM unnest(
        ${tenants.map((t) => t.customerId)}::text[],
        ${tenants.map((t) => t.id)}::text[],
        ${tenants.map((t) => t.name)}::text[]
      ) AS s`,
  ]);
}

export interface StagedCounts {
  customers: number;
  tenants: number;
}

export async function countStaged(prisma: PrismaClient, runId: number): Promise<StagedCounts> {
  const [row] = await prisma.$queryRaw<{ customers: number; tenants: number }[]>`
    SELECT (SELECT count(*)::int FROM staging_customers WHERE run_id = ${runId}::int) AS customers,
           (SELECT count(*)::int FROM staging_tenants WHERE run_id = ${runId}::int) AS tenants`;
  return row ?? { customers: 0, tenants: 0 };
}

/** Removes what runs `runIds` staged. Accepts a transaction client too. */
export async function clearStaging(
  db: Pick<PrismaClient, "$executeRaw">,
  runIds: readonly number[],
): Promise<void> {
  if (runIds.length === 0) return;
  await db.$executeRaw`DELETE FROM staging_tenants WHERE run_id = ANY(${runIds}::int[])`;
  await db.$executeRaw`DELETE FROM staging_customers WHERE run_id = ANY(${runIds}::int[])`;
}
