import { loadDotEnv, readDatabaseUrl, readElementsConfig, readLogLevel } from "../config.ts";
import { openDatabase } from "../db.ts";
import { createElementsSource } from "../elements/source.ts";
import { createLogger } from "../logger.ts";
import { migrate } from "../migrations.ts";
import { runSync } from "../sync/sync.ts";
import { EXIT } from "./io.ts";
import type { Command } from "./main.ts";
import { stringOption } from "./options.ts";
import { formatRunSummary } from "./summary.ts";

export const syncCommand: Command = {
  summary: "run one sync: fetch every customer, merge, record history",
  usage: [
    "Usage: elements-sync sync [--customer <id>] [--no-migrate]",
    "",
    "Fetches every customer (or one, with --customer) from the Elements API, stages it in",
    "PostgreSQL and merges it in one transaction. Prints a one-line summary.",
    "",
    "Options:",
    "  --customer <id>  sync this customer only (never marks anything removed)",
    "  --no-migrate     do not apply pending migrations first",
    "",
    "Exit status: 0 the run succeeded, 1 it failed (recorded in sync_runs), 2 bad usage or configuration.",
  ].join("\n"),
  options: {
    customer: { type: "string" },
    migrate: { type: "boolean", default: true },
  },
  async run(values, io) {
    // Everything that can be wrong with the configuration fails here, before any write.
    const env = process.env;
    loadDotEnv();
    const databaseUrl = readDatabaseUrl(env);
    const elements = readElementsConfig(env);
    const log = createLogger(readLogLevel(env));
    const client = createElementsSource(elements, log);
    const customerId = stringOption(values, "customer");

    const db = openDatabase(databaseUrl);
    try {
      if (values.migrate !== false) await migrate(db.pool, { log });
      const summary = await runSync(
        { db, client, log },
        { pageSize: elements.pageSize, customerId },
      );
      io.out(formatRunSummary(summary));
      return summary.status === "succeeded" ? EXIT.ok : EXIT.failed;
    } finally {
      await db.close();
    }
  },
};
