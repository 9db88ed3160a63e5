import { openDatabase } from "../db.ts";
import { checkHealth, startOperatorServer, type OperatorServer } from "../worker/http.ts";
import { createWorkerMetrics } from "../worker/metrics.ts";
import { startWorker, type Worker } from "../worker/worker.ts";
import { configure, openApp, runDefaults, SYNC_CONCERNS } from "./bootstrap.ts";
import { assertMigrated } from "../migrations.ts";
import { EXIT } from "./io.ts";
import type { CommandRunner } from "./command.ts";

export const startCommand: CommandRunner = {
  async run(values) {
    // Everything that can be wrong with the configuration fails here, before any write.
    const { config, log } = configure([...SYNC_CONCERNS, "worker"]);
    const { worker: schedule } = config;
    let worker: Worker | undefined;
    const nextFire = () => worker?.nextFire() ?? null;
    // /healthz and /metrics read through a connection of their own, never the run's. It
    // connects at the first scrape: nothing to close if start-up fails before.
    const httpDb = openDatabase(config.database.url, {
      ...config.databaseTimeout,
      applicationName: "elements-sync-http",
      maxConnections: 1,
    });
    const app = await openApp({
      ...config,
      log,
      migrate: values.migrate !== false,
      signals: true,
      instrument: () => createWorkerMetrics({ db: httpDb, log, nextFire }),
    });
    app.defer(() => httpDb.close());
    try {
      if (values.migrate === false) await assertMigrated(app.db.pool);
      const metrics = app.instruments;
      let server: OperatorServer | undefined;
      if (schedule.httpPort > 0) {
        server = await startOperatorServer({
          port: schedule.httpPort,
          host: schedule.httpHost,
          log,
          metrics,
          health: () => checkHealth(httpDb, nextFire, log),
        });
        app.defer(() => server?.close());
      }
      worker = startWorker(
        { db: app.db, client: app.client, log, metrics, notifier: app.notifier },
        { schedule, run: runDefaults(config), signal: app.signal },
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
      await app.close();
    }
  },
};
