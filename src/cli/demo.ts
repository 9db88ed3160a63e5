// A newcomer's first command: a simulator, a database, two syncs with changes between
// them, and a printout of what the second run recorded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfig, type Env } from "../config.ts";
import { DEFAULT_MAX_RESPONSE_BYTES } from "../elements/body.ts";
import { DEFAULT_CONCURRENCY } from "../sync/defaults.ts";
import { ConfigError, errorMessage } from "../errors.ts";
import { describeDatabaseUrl, openDatabase, recreateDatabase, type Queryable } from "../db.ts";
import { codeLabel } from "../elements/codes.ts";
import type { ElementsConfig } from "../elements/from-config.ts";
import { readAttributeChanges, type AttributeChangeRow } from "../sql/reporting.ts";
import { readFailingCustomers, readSubscriptionsExpiring } from "../sql/resource-reports.ts";
import { formatTable } from "../reporting/format.ts";
import {
  generateCustomers,
  writeCustomersFile,
  type SimulatedCustomer,
} from "../simulator/data.ts";
import { startSimulator } from "../simulator/server.ts";
import { countRuns } from "../sync/runs.ts";
import { runSync } from "../sync/sync.ts";
import { configure, openApp } from "./bootstrap.ts";
import type { CommandRunner } from "./command.ts";
import { DEMO_DATABASE } from "./defaults.ts";
import { isConnectionFailure } from "./failure.ts";
import { EXIT, type Io } from "./io.ts";
import { formatRunSummary } from "./summary.ts";

const LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres";

export const demoCommand: CommandRunner = {
  async run(_values, io) {
    // No .env: its DATABASE_URL is the operator's real database. Quieter than other
    // commands unless LOG_LEVEL asks: the demo's output is its printout.
    const { env, log } = configure(["logging"], { dotEnv: false, quietLogLevel: "warn" });
    const databaseUrl = await demoDatabase(io, demoDatabaseUrl(env));
    const dir = mkdtempSync(join(tmpdir(), "elements-sync-demo-"));
    const dataFile = join(dir, "customers.json");
    const customers = generateCustomers(40, 7);
    await writeCustomersFile(dataFile, customers);
    const simulator = await startSimulator({ dataFile });
    io.out(`Simulated Elements API: ${simulator.url} (40 customers)`);
    const config = demoConfig(simulator.url);
    const app = await openApp({
      log,
      database: { url: databaseUrl },
      elements: config,
      notify: undefined,
      migrate: true,
      signals: false,
      retryDelayMs: 200,
      closeAfter: [
        () => {
          rmSync(dir, { recursive: true, force: true });
        },
        () => simulator.close(),
      ],
    });
    const { db, client } = app;
    try {
      const sync = () =>
        runSync({ db, client, log }, { pageSize: 10, concurrency: config.concurrency });

      const first = await sync();
      io.out(`\nFirst sync:  ${formatRunSummary(first)}`);
      io.out(
        `\nChanged in the simulator between the runs:${await applyChanges(dataFile, customers)}\n`,
      );
      const second = await sync();
      io.out(`Second sync: ${formatRunSummary(second)}`);
      if (second.status === "succeeded") {
        await printChanges(db.pool, second.runId, io);
        await printFailingAndExpiring(db.pool, io);
      }
      io.out(
        `\nThe data is in ${describeDatabaseUrl(databaseUrl)}; docs/reporting.md has queries to try.`,
      );
      return first.status === "succeeded" && second.status === "succeeded" ? EXIT.ok : EXIT.failed;
    } finally {
      await app.close();
    }
  },
};

function demoConfig(url: string): ElementsConfig {
  return {
    apiUrl: url,
    identityUrl: url,
    clientId: "demo-client",
    credentials: { kind: "secret", clientSecret: "demo-secret" },
    scope: "elements.customers.read.all",
    pageSize: 10,
    timeoutMs: 10_000,
    maxAttempts: 3,
    maxRetryTimeMs: 30_000,
    concurrency: DEFAULT_CONCURRENCY,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
  };
}

/**
 * DATABASE_URL when set and free of elements-sync data (the demo's simulated customers
 * must never mix with real ones); else a fresh `name` on the local server.
 */
export async function demoDatabase(
  io: Io,
  databaseUrl: string | undefined,
  localServer = LOCAL_SERVER,
  name = DEMO_DATABASE,
): Promise<string> {
  if (databaseUrl) {
    await refuseIfSynced(databaseUrl);
    io.out(`Database: ${describeDatabaseUrl(databaseUrl)} (from DATABASE_URL)`);
    return databaseUrl;
  }
  const server = openDatabase(localServer);
  try {
    await recreateDatabase(server.pool, name);
  } catch (error) {
    if (!isConnectionFailure(error)) throw error;
    throw new Error(
      `DATABASE_URL is not set and no PostgreSQL accepts connections at ${describeDatabaseUrl(localServer)} (${errorMessage(error)}). ` +
        "Start one (docker compose up -d postgres) or set DATABASE_URL.",
      { cause: error },
    );
  } finally {
    await server.close();
  }
  const url = new URL(localServer);
  url.pathname = `/${name}`;
  io.out(
    `Database: ${describeDatabaseUrl(url.toString())} (created; set DATABASE_URL to use another)`,
  );
  return url.toString();
}

async function refuseIfSynced(databaseUrl: string): Promise<void> {
  const db = openDatabase(databaseUrl);
  try {
    const runs = await countRuns(db.pool);
    if (runs > 0) {
      throw new ConfigError(
        `DATABASE_URL points at a database that already holds ${runs} elements-sync run(s); the demo would mix simulated customers into it. ` +
          `Unset DATABASE_URL to use ${DEMO_DATABASE} on the local server, or point it at an empty database.`,
      );
    }
  } finally {
    await db.close();
  }
}

/** Edits the simulator's data the way a partner's week might, and says what it did. */
async function applyChanges(
  dataFile: string,
  original: readonly SimulatedCustomer[],
): Promise<string> {
  const customers: SimulatedCustomer[] = structuredClone([...original]);
  const done: string[] = [];
  const at = (index: number): SimulatedCustomer => {
    const customer = customers[index];
    if (!customer) throw new Error(`demo data has no customer ${index}`);
    return customer;
  };
  for (const [index, jobStatus] of [
    [0, 2],
    [1, at(1).jobStatus === 1 ? 5 : 1],
    [2, 3],
  ] as const) {
    if (at(index).jobStatus === jobStatus) continue;
    at(index).jobStatus = jobStatus;
    done.push(`${at(index).organization}: job status → ${codeLabel("jobStatus", jobStatus)}`);
  }
  at(3).managementMode = (at(3).managementMode + 1) % 3;
  done.push(
    `${at(3).organization}: management mode → ${codeLabel("managementMode", at(3).managementMode)}`,
  );
  at(4).tenants.push({ id: "c0ffee00-0000-4000-8000-000000000001", name: "new-tenant" });
  done.push(`${at(4).organization}: tenant new-tenant added`);
  at(4).ownerEmail = "new-owner@example.com";
  done.push(`${at(4).organization}: owner email → ${at(4).ownerEmail}`);
  const owner = customers.slice(5).find((customer) => customer.tenants.length > 0);
  const renamed = owner?.tenants[0];
  if (owner && renamed) {
    done.push(`${owner.organization}: tenant ${renamed.name} renamed to ${renamed.name}-renamed`);
    renamed.name = `${renamed.name}-renamed`;
  }
  for (const removed of customers.splice(38, 2)) done.push(`${removed.organization} removed`);
  for (const added of generateCustomers(2, 99)) {
    customers.push(added);
    done.push(`${added.organization} added`);
  }
  await writeCustomersFile(dataFile, customers);
  return done.map((line) => `\n  ${line}`).join("");
}

/** What the run changed, every attribute, as reporting.attribute_changes records it. */
async function printChanges(db: Queryable, runId: number, io: Io): Promise<void> {
  const changes = await readAttributeChanges(db, { runId });
  const width = Math.max(...changes.map((row) => (row.organization ?? "").length), 12);
  io.out(`\nWhat run ${runId} recorded (reporting.attribute_changes):`);
  for (const change of changes) {
    io.out(`  ${(change.organization ?? "(no name)").padEnd(width)}  ${describeChange(change)}`);
  }
}

/** Rows the demo lists of failing customers and of expiring subscriptions; the rest counted. */
const DEMO_ROWS = 10;
/** The window of expiring subscriptions the demo shows, in days. */
const EXPIRING_DAYS = 30;

/**
 * Why customers are failing (each failing customer with its failing backup jobs) and which
 * subscriptions expire in the next 30 days, as reporting.failing_customers and
 * reporting.services give them.
 */
export async function printFailingAndExpiring(db: Queryable, io: Io): Promise<void> {
  const failing = await readFailingCustomers(db, DEMO_ROWS);
  io.out("\nFailing customers and why (reporting.failing_customers):");
  io.out(
    shortTable(
      ["organization", "customer status", "failing job", "module", "job status", "failed items"],
      failing.rows.map((row) => [
        row.organization ?? "(no name)",
        row.job_status_label ?? "",
        row.job_id === null ? "(no failing job listed)" : (row.name ?? row.job_id),
        row.job_module_label ?? (row.job_module === null ? "" : `module ${row.job_module}`),
        row.status_label ?? (row.status === null ? "" : `status ${row.status}`),
        failedItems(row.failed_count, row.total_count),
      ]),
      failing.total,
    ),
  );
  const expiring = await readSubscriptionsExpiring(db, { days: EXPIRING_DAYS, limit: DEMO_ROWS });
  io.out(`\nSubscriptions expiring in the next ${EXPIRING_DAYS} days (reporting.services):`);
  io.out(
    shortTable(
      ["organization", "service", "subscription", "expires", "days left", "seats"],
      expiring.rows.map((row) => [
        row.organization ?? "(no name)",
        row.service ?? "",
        row.subscription_name ?? "",
        row.expiration_day,
        String(row.days_until_expiration),
        row.purchased_user_seats === null ? "" : String(row.purchased_user_seats),
      ]),
      expiring.total,
    ),
  );
}

/** "12 of 340" objects a job failed on, "12" without a total, "" when the API gave none. */
function failedItems(failed: number | null, total: number | null): string {
  if (failed === null) return "";
  return total === null ? String(failed) : `${failed} of ${total}`;
}

/** An aligned table indented under its heading, "and N more" under it; "  (none)" if empty. */
function shortTable(headers: string[], rows: string[][], total: number): string {
  if (rows.length === 0) return "  (none)";
  const lines = formatTable({ headers, rows }).split("\n");
  if (total > rows.length) lines.push(`… and ${total - rows.length} more`);
  return lines.map((line) => `  ${line}`).join("\n");
}

/** The attribute's name as the demo says it, by the kind `report changes` gives a change. */
const ATTRIBUTE: Record<string, string> = {
  status: "job status",
  mode: "management mode",
  owner: "owner email",
  organization: "organization",
  country: "country or region",
};

function describeChange(change: AttributeChangeRow): string {
  const tenant = change.tenant_name ?? "(no name)";
  switch (change.kind) {
    case "added":
      return `new customer, ${change.job_status_label ?? ""}`;
    case "removed":
      return "removed (absent from a complete run)";
    case "restored":
      return `restored, ${change.job_status_label ?? ""}`;
    case "tenant renamed":
      return `tenant ${change.old_label ?? "(no name)"} renamed to ${change.new_label ?? "(no name)"}`;
    case "tenant added":
    case "tenant removed":
    case "tenant restored":
      return `tenant ${tenant} ${change.kind.slice("tenant ".length)}`;
    default:
      return `${ATTRIBUTE[change.kind] ?? change.field} ${change.old_label ?? "(none)"} → ${change.new_label ?? "(none)"}`;
  }
}

/** DATABASE_URL, or the file DATABASE_URL_FILE names, when either is set; checked like any command's. */
function demoDatabaseUrl(env: Env): string | undefined {
  if (!env.DATABASE_URL && !env.DATABASE_URL_FILE) return undefined;
  return readConfig(env, ["database"]).database.url;
}
