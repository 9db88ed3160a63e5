// What the database holds: a snapshot to prove a run changed nothing, and the check that
// the stored customers mirror the source exactly.
import { expect } from "vitest";
import type { SimulatedCustomer } from "../../src/simulator/data.ts";
import type { TestDatabase } from "./database.ts";

export type DataSnapshot = Record<
  "customers" | "tenants" | "history" | "customerHistory" | "tenantHistory",
  unknown[]
> &
  // Absent on a database migrated only up to an earlier release.
  Partial<
    Record<"subscriptions" | "subscriptionHistory" | "backupJobs" | "backupJobHistory", unknown[]>
  >;

/**
 * Everything a failed run must leave alone. `withoutLastSeen` leaves out the last_seen_at
 * columns, which every successful run refreshes, to show an unchanged re-run changed nothing else.
 */
export async function snapshotData(
  db: TestDatabase,
  { withoutLastSeen = false } = {},
): Promise<DataSnapshot> {
  const rows = async (sql: string) => {
    const found = await db.query(sql);
    return withoutLastSeen ? found.map(({ last_seen_at: _seen, ...rest }) => rest) : found;
  };
  return {
    customers: await rows("SELECT * FROM customers ORDER BY id"),
    tenants: await rows("SELECT * FROM tenants ORDER BY customer_id, id"),
    history: await db.query("SELECT * FROM customer_status_history ORDER BY id"),
    customerHistory: await db.query("SELECT * FROM customer_history ORDER BY id"),
    tenantHistory: await db.query("SELECT * FROM tenant_history ORDER BY id"),
    // A database migrated only up to an earlier release (upgrade tests) has none of these.
    ...((await hasTable(db, "subscription_history"))
      ? {
          subscriptions: await rows(
            "SELECT * FROM subscriptions ORDER BY customer_id, service, source, subscription_name",
          ),
          subscriptionHistory: await db.query("SELECT * FROM subscription_history ORDER BY id"),
          backupJobs: await rows("SELECT * FROM backup_jobs ORDER BY customer_id, job_id"),
          backupJobHistory: await db.query("SELECT * FROM backup_job_status_history ORDER BY id"),
        }
      : {}),
  };
}

async function hasTable(db: TestDatabase, table: string): Promise<boolean> {
  const [row] = await db.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [
    table,
  ]);
  return row?.found === true;
}

const byKey = <T extends { key: string }>(rows: T[]) =>
  [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

/** Present customers, all their fields, their tenants and open periods are exactly the source's. */
export async function expectDataMatches(
  db: TestDatabase,
  source: readonly SimulatedCustomer[],
): Promise<void> {
  const stored = await db.query<{
    key: string;
    organization: string;
    owner_email: string;
    job_status: number;
    country_or_region: string;
    management_mode: number;
  }>(
    `SELECT id AS key, organization, owner_email, job_status, country_or_region, management_mode
     FROM customers WHERE removed_at IS NULL`,
  );
  expect(byKey(stored)).toEqual(
    byKey(
      source.map((c) => ({
        key: c.id,
        organization: c.organization,
        owner_email: c.ownerEmail,
        job_status: c.jobStatus,
        country_or_region: c.countryOrRegion,
        management_mode: c.managementMode,
      })),
    ),
  );

  const tenants = await db.query<{ key: string; name: string }>(
    "SELECT customer_id || '/' || id AS key, name FROM tenants WHERE removed_at IS NULL",
  );
  expect(byKey(tenants)).toEqual(
    byKey(source.flatMap((c) => c.tenants.map((t) => ({ key: `${c.id}/${t.id}`, name: t.name })))),
  );

  const open = await db.query<{ key: string; job_status: number; management_mode: number }>(
    `SELECT customer_id AS key, job_status, management_mode FROM customer_status_history
     WHERE valid_to IS NULL AND NOT removed`,
  );
  expect(byKey(open)).toEqual(
    byKey(
      source.map((c) => ({
        key: c.id,
        job_status: c.jobStatus,
        management_mode: c.managementMode,
      })),
    ),
  );
}
