import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { loggerFor } from "../logger.ts";
import { migrate } from "../migrations.ts";
import { EXIT } from "./io.ts";
import type { CommandRunner } from "./command.ts";

export const migrateCommand: CommandRunner = {
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
