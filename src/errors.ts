// Errors that reach the command line carry the exit code and a message meant for people.

/** Bad usage or configuration: exit 2, nothing written. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** What is wrong, one line each (configuration reports every bad variable at once). */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === "string" ? [problems] : problems;
    super(list.join("\n"));
    this.problems = list;
  }
}

/** A command line that does not say what to do (arguments, options): exit 2, "usage". */
export class UsageError extends ConfigError {
  override name = "UsageError";
}

/** A failure the operator can act on; the message says what went wrong and what to do. */
export class SyncError extends Error {
  override name = "SyncError";
}

/**
 * The database holds no elements-sync schema (or none as recent as the command reads): the
 * same message and exit 1 from every command.
 */
export class NotMigratedError extends SyncError {
  override name = "NotMigratedError";

  constructor() {
    super(
      "the database has not been migrated: run `npx elements-sync migrate` (or a sync without --no-migrate) first.",
    );
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
