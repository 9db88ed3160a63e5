// An end-to-end rig: a test database migrated by the real migrator, the simulator
// serving a data file the test edits between runs, and the real sync talking to it
// over HTTP. Logs are captured so tests can assert on them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { expect, onTestFinished } from "vitest";
import type { Credentials } from "../../src/elements/auth.ts";
import { DEFAULT_MAX_RESPONSE_BYTES } from "../../src/elements/body.ts";
import { DEFAULT_CONCURRENCY } from "../../src/sync/defaults.ts";
import { openDatabase, type Database } from "../../src/db.ts";
import type { ElementsClient } from "../../src/elements/client.ts";
import {
  createElementsClientFromConfig,
  type ElementsConfig,
} from "../../src/elements/from-config.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { migrate } from "../../src/migrations.ts";
import {
  generateCustomers,
  writeCustomersFile,
  type SimulatedCustomer,
} from "../../src/simulator/data.ts";
import {
  startSimulator,
  type Simulator,
  type SimulatorOptions,
} from "../../src/simulator/server.ts";
import { SYNC_LOCK_RELATION } from "../../src/sync/lock.ts";
import { UnrecordedFailures } from "../../src/sync/runs.ts";
import { runSync, type RunSummary } from "../../src/sync/sync.ts";
import type { ResourceName } from "../../src/elements/resources.ts";

/** The services and jobs a data file may give (src/simulator/data.ts). */
export type ServedResources = Parameters<typeof writeCustomersFile>[2];
import { snapshotData, type DataSnapshot } from "./data.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export interface HarnessOptions {
  /** Initial data; default 25 generated customers. */
  customers?: unknown[];
  pageSize?: number;
  /** Per-request timeout of the client (default 5 s). */
  timeoutMs?: number;
  /** Attempts per request (default 5). */
  maxAttempts?: number;
  /** Retry budget per request (default 20 s). */
  maxRetryTimeMs?: number;
  credentials?: Credentials;
  simulator?: Omit<SimulatorOptions, "dataFile">;
  /** Pages fetched at the same time (default: the sync's default, 4). */
  concurrency?: number;
  /** Response body cap of the client (default: ELEMENTS_MAX_RESPONSE_BYTES's default). */
  maxResponseBytes?: number;
  /** The URL the worker connects with, from the test database's (e.g. through a TCP proxy). */
  databaseUrlFor?: (url: string) => string;
  /** The worker's wait for one statement's answer (default: the worker's default, 10 min). */
  queryTimeoutMs?: number;
  /** Migrations to apply (default: all of prisma/migrations), e.g. those before an upgrade. */
  migrationsDir?: string;
  /**
   * The resources every sync of the harness syncs. Default customers alone: most files test
   * the customers endpoint's paging and faults, and count its requests; the files about
   * services and jobs (resources-sync, soak) name all three.
   */
  resources?: readonly ResourceName[];
}

export interface Harness {
  db: TestDatabase;
  database: Database;
  simulator: Simulator;
  client: ElementsClient;
  /** Every log line of the worker, parsed. */
  logs: Record<string, unknown>[];
  /**
   * Replaces what the simulator serves from its next request on: customers, and services and
   * jobs when given (else derived from the customers).
   */
  serve(customers: readonly unknown[], resources?: ServedResources): Promise<void>;
  sync(options?: {
    /** A `--customer` run of this one customer. */
    customerId?: string;
    /** A `--customer` run of these customers. */
    customerIds?: string[];
    pageSize?: number;
    signal?: AbortSignal;
    concurrency?: number;
    maxRemovalFraction?: number;
    allowMassRemoval?: boolean;
    /** Customers staged before a batch is merged (1: every page as it comes). */
    minMergeBatch?: number;
    /** The resources this run syncs (default: the harness's `resources`, else customers alone). */
    resources?: readonly ResourceName[];
    jobsForStatus?: readonly number[];
  }): Promise<RunSummary>;
  close(): Promise<void>;
}

export function sampleCustomers(count = 25, seed = 11): SimulatedCustomer[] {
  return generateCustomers(count, seed);
}

/** Generated customers with ids of their own (`prefix-0`, `prefix-1`, …). */
export function newCustomers(count: number, seed: number, prefix: string): SimulatedCustomer[] {
  return generateCustomers(count, seed).map((customer, i) => ({
    ...customer,
    id: `${prefix}-${i}`,
  }));
}

export function captureLogs(): { logger: Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger("debug", sink), lines, raw };
}

/**
 * A harness for the running test, closed when the test ends, passed or failed (after the
 * file's afterEach hooks, so what they stop, e.g. a proxy or a child process, stops first).
 */
export async function openHarness(options?: HarnessOptions): Promise<Harness> {
  const harness = await createHarness(options);
  onTestFinished(() => harness.close());
  return harness;
}

/**
 * For suites run once per concurrency: `start(customers, pageSize)` opens a harness
 * fetching `concurrency` pages at a time (by default 25 sample customers, pages of 10).
 */
export function harnessAt(
  concurrency: number,
): (customers?: unknown[], pageSize?: number) => Promise<Harness> {
  return (customers, pageSize) => openHarness({ customers, pageSize, concurrency });
}

/** A harness the caller closes (openHarness closes it with the test). */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  // What is open so far, closed last first: by close(), or at once if setting up fails.
  const opened: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const closeOne of opened.splice(0).reverse()) await closeOne();
  };
  try {
    return await setUpHarness(options, opened, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function setUpHarness(
  options: HarnessOptions,
  opened: (() => Promise<void> | void)[],
  close: () => Promise<void>,
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "elements-sync-test-"));
  opened.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, options.customers ?? sampleCustomers());
  const db = await createTestDatabase();
  opened.push(() => db.drop());
  const database = openDatabase(options.databaseUrlFor?.(db.url) ?? db.url, {
    queryTimeoutMs: options.queryTimeoutMs,
  });
  opened.push(() => database.close());
  const { logger, lines } = captureLogs();
  await migrate(database.pool, { log: logger, migrationsDir: options.migrationsDir });
  // The clock stops at the harness's start (unless a test passes its own): generated
  // subscriptions renew as days pass, and a test's syncs must not see one renew at midnight.
  const startedAt = Date.now();
  const simulator = await startSimulator({ now: () => startedAt, ...options.simulator, dataFile });
  opened.push(() => simulator.close());
  const config: ElementsConfig = {
    apiUrl: simulator.url,
    identityUrl: simulator.url,
    clientId: options.simulator?.clientId ?? "demo-client",
    credentials: options.credentials ?? {
      kind: "secret",
      clientSecret: options.simulator?.clientSecret ?? "demo-secret",
    },
    scope: "elements.customers.read.all",
    pageSize: options.pageSize ?? 10,
    timeoutMs: options.timeoutMs ?? 5_000,
    maxAttempts: options.maxAttempts ?? 5,
    maxRetryTimeMs: options.maxRetryTimeMs ?? 20_000,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  // Short backoff keeps retry tests quick; the rules under test are the same.
  const client = createElementsClientFromConfig(config, logger, { retryDelayMs: 20 });
  // One process's runs, as a worker's: a failure one could not record, the next records.
  const unrecordedFailures = new UnrecordedFailures();
  return {
    db,
    database,
    simulator,
    client,
    logs: lines,
    serve: (customers, resources) => writeCustomersFile(dataFile, customers, resources),
    sync: (run = {}) =>
      runSync(
        { db: database, client, log: logger, unrecordedFailures },
        {
          pageSize: run.pageSize ?? config.pageSize,
          customerIds:
            run.customerIds ?? (run.customerId === undefined ? undefined : [run.customerId]),
          signal: run.signal,
          concurrency: run.concurrency ?? config.concurrency,
          maxRemovalFraction: run.maxRemovalFraction,
          allowMassRemoval: run.allowMassRemoval,
          minMergeBatch: run.minMergeBatch,
          resources: run.resources ?? options.resources ?? ["customers"],
          jobsForStatus: run.jobsForStatus,
        },
      ),
    close,
  };
}

/** A source that differs from `customers` in every way a run can record: changed, gone, new. */
export function changedSource(customers: readonly SimulatedCustomer[]): SimulatedCustomer[] {
  const changed = structuredClone(customers.slice(2));
  for (const customer of changed.slice(0, 3)) {
    customer.jobStatus = customer.jobStatus === 2 ? 3 : 2;
  }
  return [...changed, ...newCustomers(2, 99, "added")];
}

/**
 * After a first good run of `customers`, serves `changedSource(customers)`, so the next run
 * has changes, removals and additions to merge. Returns that source and the data before it.
 */
export async function serveChangedSource(
  h: Harness,
  customers: readonly SimulatedCustomer[],
): Promise<{ source: SimulatedCustomer[]; before: DataSnapshot }> {
  expect(await h.sync()).toMatchObject({ status: "succeeded", customersAdded: customers.length });
  const source = changedSource(customers);
  await h.serve(source);
  return { source, before: await snapshotData(h.db) };
}

/** What a complete run reports when it moves the data from `customers` to `changedSource(customers)`. */
export const CHANGED_SOURCE_RUN = {
  status: "succeeded",
  complete: true,
  customersAdded: 2,
  customersRemoved: 2,
  statusChanges: 3,
} as const;

/**
 * Takes an ACCESS EXCLUSIVE lock on `table` from a connection of its own, so a merge that
 * reaches the table waits there until release().
 */
export async function holdTable(
  db: TestDatabase,
  table: string,
): Promise<{ release(): Promise<void> }> {
  const blocker = new pg.Client({ connectionString: db.url });
  await blocker.connect();
  await blocker.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await blocker.query("COMMIT");
      await blocker.end();
    },
  };
}

/** Resolves once a worker's connection (any process) waits on a lock in the test database. */
export async function waitForWorkerBlocked(db: TestDatabase): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await db.query(
            `SELECT 1 FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND application_name = 'elements-sync'`,
          )
        ).length,
      { timeout: 20_000, interval: 20 },
    )
    .toBe(1);
}

/**
 * Starts `begin` with `table` locked; once the worker's merge waits on the lock, does
 * `meanwhile` (a fault, a signal) and lets the merge go on. Returns what `begin` started.
 */
export async function duringMerge<T>(
  db: TestDatabase,
  table: string,
  begin: () => T,
  meanwhile: () => unknown,
): Promise<{ started: T }> {
  const lock = await holdTable(db, table);
  try {
    const started = begin();
    await waitForWorkerBlocked(db);
    await meanwhile();
    return { started };
  } finally {
    await lock.release();
  }
}

/**
 * Resolves once no worker session in the test database runs a statement or holds the sync
 * lock: sessions of a killed process or behind a cut connection end only when the server
 * notices.
 */
export async function workerSessionsSettled(db: TestDatabase): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await db.query(
            `SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE d.datname = current_database() AND l.relation = to_regclass($1)
             UNION ALL
             SELECT 1 FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'elements-sync'
               AND state <> 'idle'`,
            [SYNC_LOCK_RELATION],
          )
        ).length,
      { timeout: 10_000 },
    )
    .toBe(0);
}
