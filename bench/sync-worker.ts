// One measured sync in a process of its own, so that its peak RSS is the worker's alone
// (the simulator and the benchmark driver run in other processes). Started by
// bench/sync.ts with a JSON job as its argument; prints one JSON line with the result.
import { Writable } from "node:stream";
import { DEFAULT_MAX_RESPONSE_BYTES, type ElementsConfig } from "../src/config.ts";
import { openDatabase } from "../src/db.ts";
import { createElementsClientFromConfig } from "../src/elements/from-config.ts";
import { createLogger } from "../src/logger.ts";
import { runSync } from "../src/sync/sync.ts";
import { naiveSync } from "./naive.ts";

export interface WorkerJob {
  mode: "sync" | "naive";
  databaseUrl: string;
  apiUrl: string;
  pageSize: number;
  concurrency: number;
}

export interface WorkerResult {
  totalMs: number;
  fetchMs: number | null;
  mergeMs: number | null;
  status: string;
  error: string | null;
  customers: number;
  tenants: number;
  pages: number;
  runId: number | null;
  /** process.resourceUsage().maxRSS: the peak resident set of this process, in kB. */
  maxRssKb: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as WorkerJob;

/** Keeps the fields of the run's final log line; drops every other line. */
function timingSink(into: { fetchMs: number | null; mergeMs: number | null }): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line.includes('"sync run succeeded"')) continue;
        const parsed = JSON.parse(line) as { fetchMs?: number; mergeMs?: number };
        into.fetchMs = parsed.fetchMs ?? null;
        into.mergeMs = parsed.mergeMs ?? null;
      }
      callback();
    },
  });
}

async function main(): Promise<WorkerResult> {
  const timing = { fetchMs: null as number | null, mergeMs: null as number | null };
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
    if (job.mode === "naive") {
      const naive = await naiveSync(db.prisma, client, job.pageSize);
      return {
        totalMs: performance.now() - started,
        fetchMs: null,
        mergeMs: null,
        status: "succeeded",
        error: null,
        ...naive,
        runId: null,
        maxRssKb: process.resourceUsage().maxRSS,
      };
    }
    const summary = await runSync(
      { db, client, log },
      { pageSize: job.pageSize, concurrency: job.concurrency },
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
      maxRssKb: process.resourceUsage().maxRSS,
    };
  } finally {
    await db.close();
  }
}

process.stdout.write(`${JSON.stringify(await main())}\n`);
