// Errors that reach the command line carry the exit code and a message meant for people.

/** Bad usage or configuration: exit 2, nothing written. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A failure the operator can act on; the message says what went wrong and what to do. */
export class SyncError extends Error {
  override name = "SyncError";
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
