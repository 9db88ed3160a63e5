// `elements-sync bi-access <role>`: a login for BI tools that reads the reporting views and
// nothing else. The password comes from a file or stdin, never from the command line
// (where other users of the machine and the shell history would see it).
import { readFile } from "node:fs/promises";
import { loadDotEnv, readConfig } from "../config.ts";
import { openDatabase } from "../db.ts";
import { UsageError, errorMessage } from "../errors.ts";
import { checkRoleName, grantReportingAccess, ROLE_LIMITS } from "../reporting/access.ts";
import type { CommandRunner } from "./command.ts";
import { EXIT } from "./io.ts";
import { integerOption, stringOption } from "./options.ts";

export const biAccessCommand: CommandRunner = {
  async run(values, io, positionals) {
    const [role, ...extra] = positionals;
    if (role === undefined) throw new UsageError("name the role: elements-sync bi-access <role>.");
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra.join(" ")}".`);
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
          `and read the ${result.views.length} views of schema reporting (${result.views.join(", ")}) ` +
          `and call its functions ${result.functions.map((name) => `reporting.${name}`).join(", ")}, nothing else; ` +
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
      throw new UsageError(`--password-file ${file} cannot be read: ${errorMessage(error)}`);
    }
  } else {
    if (process.stdin.isTTY) {
      throw new UsageError(
        "give the password with --password-file <file> or on standard input (it is never an argument).",
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "") {
    throw new UsageError(
      `the password is empty (${file === undefined ? "standard input" : `--password-file ${file}`}).`,
    );
  }
  return password;
}
