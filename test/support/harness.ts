// An end-to-end rig: a test database migrated by the real migrator, the simulator
// serving a data file the test edits between runs, and the real sync talking to it
// over HTTP. Logs are captured so tests can assert on them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_RESPONSE_BYTES,
  type Credentials,
  type ElementsConfig,
} from "../../src/config.ts";
import { openDatabase, type Database } from "../../src/db.ts";
import type { ElementsClient } from "../../src/elements/client.ts";
import { createElementsSource } from "../../src/elements/source.ts";
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
import { runSync, type RunSummary } from "../../src/sync/sync.ts";
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
}

export interface Harness {
  db: TestDatabase;
  database: Database;
  simulator: Simulator;
  client: ElementsClient;
  /** Every log line of the worker, parsed. */
  logs: Record<string, unknown>[];
  /** Replaces what the simulator serves from its next request on. */
  serve(customers: readonly unknown[]): Promise<void>;
  sync(options?: {
    customerId?: string;
    pageSize?: number;
    signal?: AbortSignal;
    concurrency?: number;
    maxRemovalFraction?: number;
    allowMassRemoval?: boolean;
  }): Promise<RunSummary>;
  close(): Promise<void>;
}

export function sampleCustomers(count = 25, seed = 11): SimulatedCustomer[] {
  return generateCustomers(count, seed);
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

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "elements-sync-test-"));
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, options.customers ?? sampleCustomers());
  const db = await createTestDatabase();
  const database = openDatabase(options.databaseUrlFor?.(db.url) ?? db.url);
  const { logger, lines } = captureLogs();
  await migrate(database.pool, { log: logger });
  const simulator = await startSimulator({ ...options.simulator, dataFile });
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
  const client = createElementsSource(config, logger, 20);
  return {
    db,
    database,
    simulator,
    client,
    logs: lines,
    serve: (customers) => writeCustomersFile(dataFile, customers),
    sync: (run = {}) =>
      runSync(
        { db: database, client, log: logger },
        {
          pageSize: run.pageSize ?? config.pageSize,
          customerId: run.customerId,
          signal: run.signal,
          concurrency: run.concurrency ?? config.concurrency,
          maxRemovalFraction: run.maxRemovalFraction,
          allowMassRemoval: run.allowMassRemoval,
        },
      ),
    async close() {
      await simulator.close();
      await database.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
