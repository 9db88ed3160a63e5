// `elements-sync sync`: one run, its summary on stdout, a notification if NOTIFY_ON asks.
import { runSync } from "../sync/sync.ts";
import { configure, openApp, runDefaults, SYNC_CONCERNS } from "./bootstrap.ts";
import { STDERR } from "../logger.ts";
import { assertMigrated } from "../migrations.ts";
import { EXIT } from "./io.ts";
import type { CommandRunner } from "./command.ts";
import { listOption } from "./options.ts";
import { createProgressDisplay } from "./progress.ts";
import { formatRunSummary } from "./summary.ts";

export const syncCommand: CommandRunner = {
  async run(values, io) {
    // Everything that can be wrong with the options or the configuration fails here, before any write.
    const customerIds = listOption(values, "customer");
    const { env, config, log } = configure(SYNC_CONCERNS);
    // Ctrl-C or SIGTERM stops the run cleanly: recorded failed, "interrupted", nothing merged.
    const app = await openApp({ ...config, log, migrate: values.migrate !== false, signals: true });
    const progress = createProgressDisplay(process.stderr, env, undefined, STDERR);
    try {
      if (values.migrate === false) await assertMigrated(app.db.pool);
      const summary = await runSync(
        {
          db: app.db,
          client: app.client,
          log,
          ...(progress ? { onProgress: progress.update } : {}),
        },
        {
          ...runDefaults(config),
          customerIds,
          allowMassRemoval: values["allow-mass-removal"] === true,
          signal: app.signal,
        },
      );
      progress?.finish();
      io.out(formatRunSummary(summary));
      await app.notifier.afterRun(summary, app.signal);
      return summary.status === "succeeded" ? EXIT.ok : EXIT.failed;
    } finally {
      progress?.finish();
      await app.close();
    }
  },
};
