// Values a command's help names and its run uses, in a module of their own so that the
// command table (commands.ts) shows them without loading the command.

/** `status` fits its table to a terminal this wide; --wide has no limit. */
export const STATUS_TABLE_WIDTH = 120;

/** The database `demo` creates (or resets) on the local server when DATABASE_URL is unset. */
export const DEMO_DATABASE = "elements_sync_demo";
