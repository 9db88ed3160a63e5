import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { createElementsClientFromConfig } from "../elements/from-config.ts";
import { loggerFor } from "../logger.ts";
import { migrate } from "../migrations.ts";
import { createRunNotifier } from "../notify/notifier.ts";
import { runSync } from "../sync/sync.ts";
import { handleShutdownSignals } from "../worker/shutdown.ts";
import { EXIT } from "./io.ts";
import type { CommandRunner } from "./command.ts";
import { listOption } from "./options.ts";
import { createProgressDisplay } from "./progress.ts";
import { formatRunSummary } from "./summary.ts";

export const syncCommand: CommandRunner = {
  async run(values, io) {
    // Everything that can be wrong with the configuration fails here, before any write.
    const env = process.env;
    loadDotEnv();
    const { database, databaseTimeout, elements, removals, runLimits, logging, notify } =
      readConfig(env, [
        "database",
        "databaseTimeout",
        "elements",
        "removals",
        "runLimits",
        "logging",
        "notify",
      ]);
    const log = loggerFor(logging);
    const client = createElementsClientFromConfig(elements, log);
    const customerIds = listOption(values, "customer");

    // Ctrl-C or SIGTERM stops the run cleanly: recorded failed, "interrupted", nothing merged.
    const shutdown = handleShutdownSignals(log);
    const progress = createProgressDisplay(process.stderr, env);
    const db = openDatabase(database.url, databaseTimeout);
    try {
      if (values.migrate !== false) await migrate(db.pool, { log });
      const summary = await runSync(
        { db, client, log, ...(progress ? { onProgress: progress.update } : {}) },
        {
          pageSize: elements.pageSize,
          concurrency: elements.concurrency,
          customerIds,
          maxRemovalFraction: removals.maxRemovalFraction,
          allowMassRemoval: values["allow-mass-removal"] === true,
          maxDurationMs: runLimits.maxDurationMs,
          signal: shutdown.signal,
        },
      );
      progress?.finish();
      io.out(formatRunSummary(summary));
      await createRunNotifier({ config: notify, pool: db.pool, log }).afterRun(
        summary,
        shutdown.signal,
      );
      return summary.status === "succeeded" ? EXIT.ok : EXIT.failed;
    } finally {
      progress?.finish();
      await db.close();
      shutdown.dispose();
    }
  },
};
