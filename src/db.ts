// One pg pool per process, shared by Prisma (through @prisma/adapter-pg) and by the few
// places that need a dedicated session: advisory locks and multi-statement migrations.
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.ts";

export type { PrismaClient };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  /** DatabaseOptions.queryTimeoutMs as configured, for sessions that set their own timeouts. */
  queryTimeoutMs: number;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /**
   * Longest silence either side of a connection waits through: the worker for the answer
   * to one statement (then it closes the connection and the statement fails), PostgreSQL
   * for the next statement of an open transaction (then it ends the session, rolling the
   * transaction back and freeing its locks). Far above the slowest statement (the merge's
   * take seconds at 100,000 customers): it only ends waits on a connection that is gone.
   * Also how long PostgreSQL keeps the sync lock's session through silence (lock.ts).
   */
  queryTimeoutMs?: number | undefined;
}

/** Default of DatabaseOptions.queryTimeoutMs. */
export const DEFAULT_QUERY_TIMEOUT_MS = 10 * 60_000;

/** pg's message when query_timeout expires. */
const QUERY_TIMEOUT_MESSAGE = "Query read timeout";

export function openDatabase(databaseUrl: string, options: DatabaseOptions = {}): Database {
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 5,
    application_name: "elements-sync",
    // A database that does not answer fails the query, rather than leaving it (and every
    // health check and scrape after it) waiting for the operating system's TCP timeout.
    connectionTimeoutMillis: 10_000,
    // A half-open connection (a partition, a firewall dropping state) never answers.
    query_timeout: queryTimeoutMs,
    // The other half: a transaction whose worker went silent (a partition, a frozen process)
    // would otherwise hold its locks, and the run's row, until the server's TCP keepalive.
    idle_in_transaction_session_timeout: queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => {
    // Nor may a checked-out one (the sync lock's, staging's): pg emits 'error' on the client
    // as well as failing its queries, and the queries are where the run learns of it.
    client.on("error", () => undefined);
    closeConnectionOnTimeout(client, queryTimeoutMs);
  });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed = false;
  return {
    prisma,
    pool,
    queryTimeoutMs,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

type QueryFunction = (...args: unknown[]) => unknown;

/**
 * pg's query_timeout fails the statement but keeps the connection, still waiting for the
 * answer: returned to the pool (as Prisma does after a transaction), it would stall whoever
 * gets it next. Closing it fails its other queries at once and makes the pool drop it.
 * Callbacks (pool.query) need nothing: the pool drops a client whose query failed.
 */
function closeConnectionOnTimeout(client: pg.PoolClient, timeoutMs: number): void {
  const query = client.query.bind(client) as QueryFunction;
  const guarded: QueryFunction = (...args) => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    return result.catch((error: unknown) => {
      if (!(error instanceof Error) || error.message !== QUERY_TIMEOUT_MESSAGE) throw error;
      client.connection.stream.destroy();
      throw new Error(`The database did not answer within ${timeoutMs} ms; closed the connection.`);
    });
  };
  client.query = guarded as typeof client.query;
}
