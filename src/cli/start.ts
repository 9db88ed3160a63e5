import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { createElementsClientFromConfig } from "../elements/from-config.ts";
import { loggerFor } from "../logger.ts";
import { migrate } from "../migrations.ts";
import { createRunNotifier } from "../notify/notifier.ts";
import { checkHealth, startOperatorServer, type OperatorServer } from "../worker/http.ts";
import { createWorkerMetrics } from "../worker/metrics.ts";
import { handleShutdownSignals } from "../worker/shutdown.ts";
import { startWorker, type Worker } from "../worker/worker.ts";
import { EXIT } from "./io.ts";
import type { Command } from "./command.ts";

export const startCommand: Command = {
  summary: "run as a worker: sync on the SYNC_CRON schedule until stopped",
  usage: [
    "Usage: elements-sync start [--no-migrate]",
    "",
    "Runs until SIGTERM or SIGINT: syncs on the SYNC_CRON schedule in SYNC_TIMEZONE (and once",
    "at start with SYNC_ON_START=true), one run per scheduled time across every replica that",
    "shares the database, and serves GET /healthz and GET /metrics on HTTP_PORT.",
    "",
    "Options:",
    "  --no-migrate     do not apply pending migrations first",
    "",
    "Exit status: 0 stopped by a signal, 1 could not start (or was killed by a second signal),",
    "2 bad usage or configuration.",
  ].join("\n"),
  options: {
    migrate: { type: "boolean", default: true },
  },
  async run(values) {
    // Everything that can be wrong with the configuration fails here, before any write.
    const env = process.env;
    loadDotEnv();
    const {
      database,
      databaseTimeout,
      elements,
      removals,
      runLimits,
      worker: schedule,
      logging,
      notify,
    } = readConfig(env, [
      "database",
      "databaseTimeout",
      "elements",
      "removals",
      "runLimits",
      "worker",
      "logging",
      "notify",
    ]);
    const log = loggerFor(logging);

    const shutdown = handleShutdownSignals(log);
    const db = openDatabase(database.url, databaseTimeout);
    // /healthz and /metrics read through a connection of their own, never the run's.
    const httpDb = openDatabase(database.url, {
      ...databaseTimeout,
      applicationName: "elements-sync-http",
      maxConnections: 1,
    });
    let server: OperatorServer | undefined;
    let worker: Worker | undefined;
    try {
      const metrics = createWorkerMetrics({
        db: httpDb,
        log,
        nextFire: () => worker?.nextFire() ?? null,
      });
      const client = createElementsClientFromConfig(elements, log, {
        events: metrics.clientEvents,
      });
      if (values.migrate !== false) await migrate(db.pool, { log });
      if (schedule.httpPort > 0) {
        server = await startOperatorServer({
          port: schedule.httpPort,
          host: schedule.httpHost,
          log,
          metrics,
          health: () => checkHealth(httpDb, () => worker?.nextFire() ?? null, log),
        });
      }
      const notifier = createRunNotifier({
        config: notify,
        pool: db.pool,
        log,
        onResult: (result) => {
          metrics.recordNotification(result);
        },
      });
      worker = startWorker(
        { db, client, log, metrics, notifier },
        {
          schedule,
          pageSize: elements.pageSize,
          concurrency: elements.concurrency,
          maxRemovalFraction: removals.maxRemovalFraction,
          maxRunDurationMs: runLimits.maxDurationMs,
          signal: shutdown.signal,
        },
      );
      log.info(
        {
          cron: schedule.cron,
          timezone: schedule.timezone,
          runOnStart: schedule.runOnStart,
          nextFireAt: worker.nextFire(),
          http: server?.url ?? "off",
        },
        "worker started",
      );
      await worker.stopped;
      log.info("worker stopped");
      return EXIT.ok;
    } finally {
      await server?.close();
      await httpDb.close();
      await db.close();
      shutdown.dispose();
    }
  },
};
