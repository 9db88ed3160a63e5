// The one line a failed command prints: what went wrong and, for the database, which one.
import { errorMessage } from "../errors.ts";
import { describeDatabaseUrl } from "../db.ts";
import { configuredDatabaseUrl, type Env } from "../config.ts";

/** Socket errors of a connection attempt (`syscall` connect or getaddrinfo). */
const CONNECT_SYSCALLS = new Set(["connect", "getaddrinfo"]);

/**
 * SQLSTATEs PostgreSQL answers a connection attempt with: unknown role or pg_hba refusal,
 * wrong password, unknown database, starting up or shutting down, too many connections.
 */
const CONNECTION_SQLSTATES = new Set(["28000", "28P01", "3D000", "57P03", "53300"]);

/** pg's message when connectionTimeoutMillis passes before the server answers. */
const CONNECT_TIMEOUT = /^Connection terminated due to connection timeout$/;

export function describeFailure(error: unknown, env: Env): string {
  const message = oneLine(errorMessage(error));
  if (!isConnectionFailure(error)) return message;
  const url = configuredDatabaseUrl(env);
  const where = url ? ` ${describeDatabaseUrl(url)}` : "";
  return `cannot connect to the database${where} (DATABASE_URL): ${message}`;
}

export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (syscall !== undefined && CONNECT_SYSCALLS.has(syscall)) return true;
  if (code !== undefined && CONNECTION_SQLSTATES.has(code)) return true;
  return CONNECT_TIMEOUT.test(error.message);
}

/** Messages from libraries (Prisma's especially) can span lines; the CLI prints one. */
function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" ");
}
