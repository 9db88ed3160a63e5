// One measured sync in a process of its own, so that its peak RSS is the worker's alone
// (the simulator and the benchmark driver run in other processes). Started by
// bench/sync.ts with a JSON job as its argument; prints one JSON line with the result.
import { Writable } from "node:stream";
import { DEFAULT_MAX_RESPONSE_BYTES } from "../src/elements/body.ts";
import { openDatabase } from "../src/db.ts";
import {
  createElementsClientFromConfig,
  type ElementsConfig,
} from "../src/elements/from-config.ts";
import { createLogger } from "../src/logger.ts";
import type { ResourceName } from "../src/elements/resources.ts";
import type { ResourceRecord } from "../src/sql/resources.ts";
import { runSync } from "../src/sync/sync.ts";
import { naiveSync } from "./naive.ts";

export interface WorkerJob {
  mode: "sync" | "naive";
  databaseUrl: string;
  apiUrl: string;
  pageSize: number;
  concurrency: number;
  /** What the run syncs (ELEMENTS_RESOURCES); default customers alone. */
  resources?: ResourceName[];
}

/** The log line "asked the API for the customers missing from the pages". */
export interface RemovalLookup {
  absent: number;
  requests: number;
  durationMs: number;
  found: number;
  gone: number;
}

export interface WorkerResult {
  totalMs: number;
  fetchMs: number | null;
  mergeMs: number | null;
  /** Last page arrived -> commit; null on builds that log no afterLastPageMs. */
  afterLastPageMs: number | null;
  status: string;
  error: string | null;
  customers: number;
  tenants: number;
  pages: number;
  runId: number | null;
  customersRemoved: number | null;
  removalsWithheld: number | null;
  removalLookup: RemovalLookup | null;
  /** process.resourceUsage().maxRSS: the peak resident set of this process, in kB. */
  maxRssKb: number;
  /** User + system CPU time of this process during the run, in ms. */
  cpuMs: number;
  /** What the run did with each resource: its requests and records (null: naive loop). */
  resources: readonly ResourceRecord[] | null;
}

/** CPU time since `since` (the run's start: loading the modules is not the run's), in ms. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

const job = JSON.parse(process.argv[2] ?? "{}") as WorkerJob;

type Logged = Pick<WorkerResult, "fetchMs" | "mergeMs" | "afterLastPageMs" | "removalLookup">;

/** Keeps the fields of the run's final line and of its removal lookups; drops the rest. */
function timingSink(into: Logged): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.includes('"sync run succeeded"')) {
          const parsed = JSON.parse(line) as Partial<Record<string, number>>;
          into.fetchMs = parsed.fetchMs ?? null;
          into.mergeMs = parsed.mergeMs ?? null;
          into.afterLastPageMs = parsed.afterLastPageMs ?? null;
        } else if (line.includes('"asked the API for the customers missing from the pages"')) {
          const { absent, requests, durationMs, found, gone } = JSON.parse(line) as RemovalLookup;
          into.removalLookup = { absent, requests, durationMs, found, gone };
        }
      }
      callback();
    },
  });
}

async function main(): Promise<WorkerResult> {
  const timing: Logged = {
    fetchMs: null,
    mergeMs: null,
    afterLastPageMs: null,
    removalLookup: null,
  };
  const log = createLogger("info", timingSink(timing));
  const config: ElementsConfig = {
    apiUrl: job.apiUrl,
    identityUrl: job.apiUrl,
    clientId: "demo-client",
    credentials: { kind: "secret", clientSecret: "demo-secret" },
    scope: "elements.customers.read.all",
    pageSize: job.pageSize,
    timeoutMs: 30_000,
    maxAttempts: 6,
    maxRetryTimeMs: 300_000,
    concurrency: job.concurrency,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
  };
  const client = createElementsClientFromConfig(config, log);
  const db = openDatabase(job.databaseUrl);
  try {
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();
    if (job.mode === "naive") {
      const naive = await naiveSync(db.prisma, client, job.pageSize);
      return {
        totalMs: performance.now() - started,
        fetchMs: null,
        mergeMs: null,
        afterLastPageMs: null,
        status: "succeeded",
        error: null,
        ...naive,
        runId: null,
        customersRemoved: null,
        removalsWithheld: null,
        removalLookup: null,
        maxRssKb: process.resourceUsage().maxRSS,
        cpuMs: cpuMs(cpuAtStart),
        resources: null,
      };
    }
    const summary = await runSync(
      { db, client, log },
      {
        pageSize: job.pageSize,
        concurrency: job.concurrency,
        resources: job.resources ?? ["customers"],
      },
    );
    const totalMs = performance.now() - started;
    return {
      totalMs,
      ...timing,
      status: summary.status,
      error: summary.status === "failed" ? summary.error : null,
      customers: summary.customersSeen,
      tenants: summary.tenantsSeen,
      pages: summary.pagesFetched,
      runId: summary.runId,
      customersRemoved: summary.status === "succeeded" ? summary.customersRemoved : null,
      removalsWithheld: summary.status === "succeeded" ? summary.removalsWithheld : null,
      maxRssKb: process.resourceUsage().maxRSS,
      cpuMs: cpuMs(cpuAtStart),
      resources: summary.status === "succeeded" ? summary.resources : null,
    };
  } finally {
    await db.close();
  }
}

process.stdout.write(`${JSON.stringify(await main())}\n`);
