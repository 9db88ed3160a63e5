import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { createElementsClientFromConfig } from "../elements/from-config.ts";
import { loggerFor } from "../logger.ts";
import { migrate } from "../migrations.ts";
import { createRunNotifier } from "../notify/notifier.ts";
import { runSync } from "../sync/sync.ts";
import { handleShutdownSignals } from "../worker/shutdown.ts";
import { EXIT } from "./io.ts";
import type { Command } from "./command.ts";
import { listOption } from "./options.ts";
import { createProgressDisplay } from "./progress.ts";
import { formatRunSummary } from "./summary.ts";

export const syncCommand: Command = {
  summary: "run one sync: fetch every customer, merge, record history",
  usage: [
    "Usage: elements-sync sync [--customer <id>[,<id>...]]... [--allow-mass-removal] [--no-migrate]",
    "",
    "Fetches every customer (or the ones --customer names) from the Elements API, stages it",
    "in PostgreSQL and merges it in one transaction. Prints a one-line summary.",
    "",
    "Options:",
    "  --customer <id>         sync these customers only (never marks anything removed);",
    "                          repeat it or give a comma-separated list",
    "  --allow-mass-removal    mark customers removed even when more than MAX_REMOVAL_FRACTION",
    "                          of them are gone (the guard otherwise removes none and warns)",
    "  --no-migrate            do not apply pending migrations first",
    "",
    "Exit status: 0 the run succeeded, 1 it failed (recorded in sync_runs), 2 bad usage or configuration.",
  ].join("\n"),
  options: {
    customer: { type: "string", multiple: true },
    "allow-mass-removal": { type: "boolean", default: false },
    migrate: { type: "boolean", default: true },
  },
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
