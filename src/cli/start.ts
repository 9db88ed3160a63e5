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
import type { CommandRunner } from "./command.ts";

export const startCommand: CommandRunner = {
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
    let server: OperatorServer | undefined;
    let worker: Worker | undefined;
    try {
      const metrics = createWorkerMetrics({ db, log, nextFire: () => worker?.nextFire() ?? null });
      const client = createElementsClientFromConfig(elements, log, {
        events: metrics.clientEvents,
      });
      if (values.migrate !== false) await migrate(db.pool, { log });
      if (schedule.httpPort > 0) {
        server = await startOperatorServer({
          port: schedule.httpPort,
          log,
          metrics,
          health: () => checkHealth(db, () => worker?.nextFire() ?? null),
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
      await db.close();
      shutdown.dispose();
    }
  },
};
