// `elements-sync bi-access <role>`: a login for BI tools that reads the reporting views and
// nothing else. The password comes from a file or stdin, never from the command line
// (where other users of the machine and the shell history would see it).
import { readFile } from "node:fs/promises";
import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { ConfigError, errorMessage } from "../errors.ts";
import { checkRoleName, grantReportingAccess, ROLE_LIMITS } from "../reporting/access.ts";
import type { Command } from "./command.ts";
import { EXIT } from "./io.ts";
import { integerOption, stringOption } from "./options.ts";

export const biAccessCommand: Command = {
  summary: "create or update a read-only login for BI tools (reporting views only)",
  usage: [
    "Usage: elements-sync bi-access <role> [--password-file <file>] [--replace]",
    "",
    "Creates the login role <role> (or updates it, if it is already a plain login) so that",
    "it can read the views of schema reporting in DATABASE_URL's database and nothing else:",
    "no base table, no other schema, no writes. Views added by later migrations are",
    "readable too. Run it as the user that migrates (with CREATEROLE) or as a superuser.",
    "",
    "The password is the first line of --password-file, or else standard input:",
    "  printf '%s' \"$BI_PASSWORD\" | elements-sync bi-access metabase_reader",
    "",
    "Its sessions are limited: statements are cancelled after --statement-timeout, a",
    "session left idle in an open transaction is ended after --idle-in-transaction-timeout",
    "(it would hold tables against migrations), and at most --connection-limit at once.",
    "An existing role that holds privileges outside the reporting schema is refused",
    "unless --replace, which revokes them.",
    "",
    "Options:",
    "  --password-file <file>                 read the password from this file",
    `  --statement-timeout <ms>               default ${ROLE_LIMITS.statementTimeoutMs} (5 minutes)`,
    `  --idle-in-transaction-timeout <ms>     default ${ROLE_LIMITS.idleInTransactionTimeoutMs} (1 minute)`,
    `  --connection-limit <n>                 default ${ROLE_LIMITS.connectionLimit}`,
    "  --replace                              take over a role with privileges elsewhere, revoking them",
  ].join("\n"),
  positionals: true,
  options: {
    "password-file": { type: "string" },
    "statement-timeout": { type: "string" },
    "idle-in-transaction-timeout": { type: "string" },
    "connection-limit": { type: "string" },
    replace: { type: "boolean" },
  },
  async run(values, io, positionals) {
    const [role, ...extra] = positionals;
    if (role === undefined) throw new ConfigError("name the role: elements-sync bi-access <role>.");
    if (extra.length > 0) throw new ConfigError(`unexpected argument "${extra.join(" ")}".`);
    checkRoleName(role);
    const limits = {
      statementTimeoutMs: integerOption(values, "statement-timeout", {
        min: 1000,
        max: 86_400_000,
        fallback: ROLE_LIMITS.statementTimeoutMs,
      }),
      idleInTransactionTimeoutMs: integerOption(values, "idle-in-transaction-timeout", {
        min: 1000,
        max: 86_400_000,
        fallback: ROLE_LIMITS.idleInTransactionTimeoutMs,
      }),
      connectionLimit: integerOption(values, "connection-limit", {
        min: 1,
        max: 10_000,
        fallback: ROLE_LIMITS.connectionLimit,
      }),
    };
    const password = await readPassword(stringOption(values, "password-file"));
    loadDotEnv();
    const { database, databaseTimeout } = readConfig(process.env, ["database", "databaseTimeout"]);
    const db = openDatabase(database.url, {
      ...databaseTimeout,
      applicationName: "elements-sync bi-access",
    });
    try {
      const result = await grantReportingAccess(db.pool, role, password, {
        limits,
        replace: values.replace === true,
      });
      io.out(
        `${result.created ? "created" : "updated"} role ${role}: it can log in to database ${result.database} ` +
          `and read the ${result.views.length} views of schema reporting (${result.views.join(", ")}), nothing else; ` +
          `statements end after ${limits.statementTimeoutMs} ms, an idle open transaction after ` +
          `${limits.idleInTransactionTimeoutMs} ms, at most ${limits.connectionLimit} connections`,
      );
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};

/** The first line of the file or of stdin; a trailing newline is not part of a password. */
async function readPassword(file: string | undefined): Promise<string> {
  let text: string;
  if (file !== undefined) {
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw new ConfigError(`--password-file ${file} cannot be read: ${errorMessage(error)}`);
    }
  } else {
    if (process.stdin.isTTY) {
      throw new ConfigError(
        "give the password with --password-file <file> or on standard input (it is never an argument).",
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "") {
    throw new ConfigError(
      `the password is empty (${file === undefined ? "standard input" : `--password-file ${file}`}).`,
    );
  }
  return password;
}
