// Prometheus metrics of the worker. What describes the database (runs by status, the last
// run, customers by job status) is read from PostgreSQL at scrape time, so every replica
// reports the same truth; API requests, retries, rejected records and fires are counted by
// this process since it started.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { Database } from "../db.ts";
import type { ClientEvents } from "../elements/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { countCustomersByJobStatus, readLastRunResources } from "../sql/health.ts";
import { readRunTotals, RUN_STATUSES } from "../sync/runs.ts";
import type { RunSummary } from "../sync/sync.ts";
import type { NotificationResult } from "../notify/notifier.ts";
import { singleFlight } from "./single-flight.ts";

/** What became of one scheduled fire in this process. */
export type FireOutcome =
  "ran" | "overlap" | "not-elected" | "coordinator-error" | "missed" | "locked" | "error";

export interface WorkerMetrics {
  readonly contentType: string;
  /** Pass to the Elements client: counts requests by status and retries by kind. */
  readonly clientEvents: ClientEvents;
  recordRun(summary: RunSummary): void;
  recordFire(outcome: FireOutcome): void;
  recordNotification(result: NotificationResult): void;
  /** Reads the database, then renders every metric in the text exposition format. */
  render(): Promise<string>;
}

interface MetricsOptions {
  db: Database;
  log: Logger;
  /** The next scheduled fire, if the schedule is running. */
  nextFire: () => Date | null;
}

export function createWorkerMetrics({ db, log, nextFire }: MetricsOptions): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Shown only when the scrape could read the database. Reset, a gauge without labels would
  // read 0: "nothing withheld", "never succeeded", and alerts on it would resolve.
  const fromDatabase = new Registry();
  const gauge = <T extends string>(
    name: string,
    help: string,
    labelNames: T[] = [],
    register = fromDatabase,
  ) => new Gauge<T>({ name: `elements_sync_${name}`, help, labelNames, registers: [register] });
  const counter = <T extends string>(name: string, help: string, labelNames: T[] = []) =>
    new Counter<T>({ name: `elements_sync_${name}`, help, labelNames, registers: [registry] });

  const database = {
    up: gauge("database_up", "1 if the last scrape could read the database, else 0", [], registry),
    runs: gauge("runs", "sync_runs rows by status", ["status"]),
    running: gauge("run_in_progress", "1 while a run is running on the database"),
    lastStart: gauge(
      "last_run_start_timestamp_seconds",
      "start of the last finished run (Unix time)",
    ),
    lastFinish: gauge(
      "last_run_finish_timestamp_seconds",
      "end of the last finished run (Unix time)",
    ),
    lastDuration: gauge("last_run_duration_seconds", "duration of the last finished run"),
    lastStatus: gauge("last_run_status", "1 for the last finished run's status, else 0", [
      "status",
    ]),
    lastComplete: gauge("last_run_complete", "1 if the last finished run was complete"),
    lastWithheld: gauge(
      "last_run_removals_withheld",
      "customers the mass-removal guard kept the last finished run from marking removed",
    ),
    lastSuccess: gauge(
      "last_success_timestamp_seconds",
      "start of the last succeeded run whose removals the guard did not withhold (Unix time)",
    ),
    ...guardGauges(gauge),
    customers: gauge("customers", "present customers by job status", ["job_status", "label"]),
    resources: gauge(
      "last_run_resource_outcome",
      "1 for each resource the last finished run synced, by its outcome (complete, partial, skipped)",
      ["resource", "outcome"],
    ),
  };
  const nextFireGauge = gauge(
    "next_fire_timestamp_seconds",
    "when the schedule fires next (Unix time)",
    [],
    registry,
  );
  const requests = counter("api_requests_total", "Elements API answers by HTTP status", ["status"]);
  const retries = counter("api_retries_total", "Elements API requests retried, by cause", ["kind"]);
  const rejected = counter("rejected_records_total", "customer records rejected by validation");
  const runs = counter("runs_finished_total", "runs this process finished, by status", ["status"]);
  const fires = counter("fires_total", "scheduled fires seen by this process, by outcome", [
    "outcome",
  ]);
  const notifications = counter(
    "notifications_total",
    "run notifications to NOTIFY_WEBHOOK_URL by result (sent, failed)",
    ["result"],
  );

  // One read at a time, however many scrapes wait for it (http.ts).
  const readDatabase = singleFlight(readDatabaseNow);
  async function readDatabaseNow(): Promise<void> {
    const [totals, customers, resources] = await Promise.all([
      readRunTotals(db.pool),
      countCustomersByJobStatus(db.pool),
      readLastRunResources(db.pool),
    ]);
    for (const metric of Object.values(database)) metric.reset();
    database.up.set(1);
    for (const status of RUN_STATUSES) database.runs.set({ status }, totals.byStatus[status]);
    database.running.set(totals.byStatus.running > 0 ? 1 : 0);
    const last = totals.lastFinished;
    if (last) {
      database.lastStart.set(last.startedAt);
      database.lastFinish.set(last.finishedAt);
      database.lastDuration.set(last.finishedAt - last.startedAt);
      for (const status of RUN_STATUSES) {
        database.lastStatus.set({ status }, status === last.status ? 1 : 0);
      }
      database.lastComplete.set(last.complete ? 1 : 0);
      database.lastWithheld.set(last.removalsWithheld);
    }
    if (totals.lastSuccessAt !== null) database.lastSuccess.set(totals.lastSuccessAt);
    database.removalsWithheld.set(totals.removalsWithheld);
    if (totals.lastCompleteSuccessAt !== null) {
      database.lastCompleteSuccess.set(totals.lastCompleteSuccessAt);
    }
    for (const { resource, outcome } of resources) database.resources.set({ resource, outcome }, 1);
    for (const { jobStatus, label, customers: count } of customers) {
      database.customers.set(
        { job_status: String(jobStatus), label: label ?? `unknown (${jobStatus})` },
        count,
      );
    }
  }

  return {
    contentType: registry.contentType,
    clientEvents: {
      response: (status) => {
        requests.inc({ status: String(status) });
      },
      retry: (kind) => {
        retries.inc({ kind });
      },
    },
    recordRun(summary) {
      runs.inc({ status: summary.status });
      rejected.inc(summary.rejectedRecords);
    },
    recordFire(outcome) {
      fires.inc({ outcome });
    },
    recordNotification(result) {
      notifications.inc({ result });
    },
    async render() {
      let readable = true;
      try {
        await readDatabase();
      } catch (error) {
        readable = false;
        // Stale numbers would look healthy: report the database down and nothing from it.
        log.warn({ err: errorMessage(error) }, "metrics: could not read the database");
        for (const metric of Object.values(database)) metric.reset();
        database.up.set(0);
      }
      const next = nextFire();
      nextFireGauge.reset();
      if (next) nextFireGauge.set(next.getTime() / 1000);
      return (readable ? Registry.merge([registry, fromDatabase]) : registry).metrics();
    },
  };
}

// The mass-removal guard and the last complete success (see RunTotals in sync/runs.ts).
type GaugeFactory = (name: string, help: string) => Gauge;

function guardGauges(gauge: GaugeFactory) {
  return {
    removalsWithheld: gauge(
      "removals_withheld",
      "customers the mass-removal guard kept the latest complete run from marking removed",
    ),
    lastCompleteSuccess: gauge(
      "last_complete_success_timestamp_seconds",
      "start of the last complete run that succeeded and withheld no removals (Unix time)",
    ),
  };
}
