// The baseline the sync is measured against: the loop a user would write first. Pages one
// after another; per customer, a read to see whether its status changed, one Prisma
// upsert, one upsert per tenant, and a history row (closing the previous one) per change.
// It is honest rather than careless, but it does less than the real sync: no staging, no
// completeness check, no removals.
import type { PrismaClient } from "../src/db.ts";
import type { ElementsClient } from "../src/elements/client.ts";
import { customerSchema } from "../src/elements/payload.ts";

export interface NaiveResult {
  pages: number;
  customers: number;
  tenants: number;
}

export async function naiveSync(
  prisma: PrismaClient,
  client: ElementsClient,
  pageSize: number,
): Promise<NaiveResult> {
  const run = await prisma.syncRun.create({ data: {} });
  const now = run.startedAt;
  const result: NaiveResult = { pages: 0, customers: 0, tenants: 0 };
  for (let pageIndex = 1, pages = 1; pageIndex <= pages; pageIndex++) {
    const page = await client.fetchPage({ pageIndex, pageSize });
    pages = Math.ceil(page.metadata.totalCount / pageSize);
    result.pages += 1;
    for (const raw of page.data) {
      const customer = customerSchema.parse(raw);
      const fields = {
        organization: customer.organization,
        ownerEmail: customer.ownerEmail,
        jobStatus: customer.jobStatus,
        countryOrRegion: customer.countryOrRegion,
        managementMode: customer.managementMode,
      };
      const before = await prisma.customer.findUnique({
        where: { id: customer.id },
        select: { jobStatus: true, managementMode: true },
      });
      await prisma.customer.upsert({
        where: { id: customer.id },
        create: { id: customer.id, ...fields, firstSeenAt: now, lastSeenAt: now },
        update: { ...fields, lastSeenAt: now, removedAt: null },
      });
      for (const tenant of customer.tenants) {
        await prisma.tenant.upsert({
          where: { customerId_id: { customerId: customer.id, id: tenant.id } },
          create: {
            customerId: customer.id,
            id: tenant.id,
            name: tenant.name,
            firstSeenAt: now,
            lastSeenAt: now,
          },
          update: { name: tenant.name, lastSeenAt: now, removedAt: null },
        });
        result.tenants += 1;
      }
      const changed =
        before === null ||
        before.jobStatus !== customer.jobStatus ||
        before.managementMode !== customer.managementMode;
      if (changed) {
        if (before !== null) {
          await prisma.customerStatusHistory.updateMany({
            where: { customerId: customer.id, validTo: null },
            data: { validTo: now, closedByRunId: run.id },
          });
        }
        await prisma.customerStatusHistory.create({
          data: {
            customerId: customer.id,
            jobStatus: customer.jobStatus,
            managementMode: customer.managementMode,
            removed: false,
            validFrom: now,
            openedByRunId: run.id,
          },
        });
      }
      result.customers += 1;
    }
  }
  await prisma.syncRun.update({
    where: { id: run.id },
    data: { status: "succeeded", finishedAt: new Date(), complete: true },
  });
  return result;
}
