import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { loggerFor } from "../logger.ts";
import { migrate } from "../migrations.ts";
import { EXIT } from "./io.ts";
import type { Command } from "./command.ts";

export const migrateCommand: Command = {
  summary: "apply pending database migrations and exit",
  usage: [
    "Usage: elements-sync migrate",
    "",
    "Applies the migrations in prisma/migrations that DATABASE_URL lacks, each in a",
    "transaction, under an advisory lock, recorded in _prisma_migrations. Stops with an",
    "error if an applied migration's file has changed.",
  ].join("\n"),
  options: {},
  async run(_values, io) {
    loadDotEnv();
    const { database, databaseTimeout, logging } = readConfig(process.env, [
      "database",
      "databaseTimeout",
      "logging",
    ]);
    const log = loggerFor(logging);
    const db = openDatabase(database.url, databaseTimeout);
    try {
      const result = await migrate(db.pool, { log });
      io.out(
        result.applied.length === 0
          ? `database is up to date (${result.alreadyApplied} migrations applied before)`
          : `applied ${result.applied.length} migration(s): ${result.applied.join(", ")}`,
      );
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};
