// The one way into PostgreSQL: one pg pool per process (every command opens it here, with
// the same connect and query timeouts), shared by Prisma (through @prisma/adapter-pg) and by
// the few places that need a session of their own (the run lock, the run's merge session and
// its staging, migrations, transactions), which take it through openSession, withSession,
// inTransaction or openTransaction.
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
  /** Shown in pg_stat_activity, so an operator can tell the worker from a report. */
  applicationName?: string | undefined;
  /**
   * Longest silence either side of a connection waits through: the worker for the answer
   * to one statement (then it closes the connection and the statement fails), PostgreSQL
   * for the next statement of an open transaction (then it ends the session, rolling the
   * transaction back and freeing its locks). Far above the slowest statement (the merge's
   * take seconds at 100,000 customers): it only ends waits on a connection that is gone.
   * Also how long PostgreSQL keeps the sync lock's session through silence (lock.ts).
   */
  queryTimeoutMs?: number | undefined;
  /** Connections the pool may open (default 5: a run needs 3). */
  maxConnections?: number | undefined;
}

/** Default of DatabaseOptions.queryTimeoutMs. */
export const DEFAULT_QUERY_TIMEOUT_MS = 10 * 60_000;

/** How long opening a connection may take before the statement waiting for it fails. */
const CONNECT_TIMEOUT_MS = 10_000;

/** pg's message when query_timeout expires. */
const QUERY_TIMEOUT_MESSAGE = "Query read timeout";

export function openDatabase(databaseUrl: string, options: DatabaseOptions = {}): Database {
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 5,
    application_name: options.applicationName ?? "elements-sync",
    // A database that does not answer fails the query, rather than leaving it (and every
    // health check and scrape after it) waiting for the operating system's TCP timeout.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // A half-open connection (a partition, a firewall dropping state) never answers.
    query_timeout: queryTimeoutMs,
    // The server's side of it: a statement still running (or waiting for a lock) then is
    // cancelled by PostgreSQL itself, so it does not go on holding or queueing for locks
    // after the worker closed its connection (a lock wait never notices a closed socket).
    statement_timeout: queryTimeoutMs,
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

/** What runs a statement: the pool (on any free connection) or one session. */
export interface Queryable {
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
}

/**
 * One connection of the pool held by one caller, so that its statements share a server
 * session: an advisory lock, a transaction, a session setting. `release(true)` ends the
 * session rather than returning it to the pool, the only way to drop state that must not
 * reach the pool's next user (a lock that could not be released, a changed timeout).
 */
export type Session = pg.PoolClient;

/** A session for a caller that holds it across calls (the sync lock, staging); it releases it. */
export function openSession(pool: pg.Pool): Promise<Session> {
  return pool.connect();
}

/**
 * Runs `fn` on a session of its own and returns the session to the pool when `fn` resolves.
 * The session is ended instead when `fn` throws (its state is unknown) or calls `discard`.
 */
export async function withSession<T>(
  pool: pg.Pool,
  fn: (session: Session, discard: () => void) => Promise<T>,
): Promise<T> {
  const session = await openSession(pool);
  let discarded = false;
  try {
    return await fn(session, () => {
      discarded = true;
    });
  } catch (error) {
    discarded = true;
    throw error;
  } finally {
    session.release(discarded);
  }
}

/**
 * Runs `fn` between BEGIN and COMMIT on `session`, or on a session of its own when given the
 * pool; ROLLBACK when `fn` (or the COMMIT) fails, and the error is thrown on. The one way a
 * transaction is run, whoever runs it (the statements of src/sql/ take its session); Prisma's
 * own `$transaction` is not used.
 */
export async function inTransaction<T>(
  target: pg.Pool | Session,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  if (target instanceof pg.Pool) {
    return withSession(target, (session) => inTransaction(session, fn));
  }
  await begin(target);
  try {
    const result = await fn(target);
    await target.query("COMMIT");
    return result;
  } catch (error) {
    await rollBack(target);
    throw error;
  }
}

/**
 * A savepoint in the caller's transaction: what follows it can be kept (`keep`) or undone
 * whole (`undo`) without ending the transaction. A run takes one for each resource's pass.
 */
export async function savepoint(
  session: Queryable,
  name: string,
): Promise<{ keep(): Promise<void>; undo(): Promise<void> }> {
  const quoted = pg.escapeIdentifier(name);
  await session.query(`SAVEPOINT ${quoted}`);
  return {
    async keep() {
      await session.query(`RELEASE SAVEPOINT ${quoted}`);
    },
    async undo() {
      await session.query(`ROLLBACK TO SAVEPOINT ${quoted}`);
      await session.query(`RELEASE SAVEPOINT ${quoted}`);
    },
  };
}

/** A transaction that stays open across calls, on a session of its own (the run lock's). */
export interface OpenTransaction {
  session: Session;
  /**
   * Commits and returns the session to the pool. Throws when PostgreSQL rolled back
   * instead (it answers COMMIT of a transaction a failed statement aborted with ROLLBACK).
   */
  commit(): Promise<void>;
  /**
   * Rolls the transaction back and returns the session to the pool; ends the session
   * instead when the rollback fails (the connection is gone, and the transaction with it).
   */
  end(): Promise<void>;
}

export async function openTransaction(pool: pg.Pool): Promise<OpenTransaction> {
  const session = await openSession(pool);
  try {
    await begin(session);
  } catch (error) {
    session.release(true);
    throw error;
  }
  let done = false;
  return {
    session,
    async commit() {
      const { command } = await session.query("COMMIT");
      done = true;
      session.release();
      if (command !== "COMMIT") throw new Error("The transaction was rolled back, not committed.");
    },
    async end() {
      if (done) return;
      done = true;
      session.release(!(await rollBack(session)));
    },
  };
}

async function begin(session: Session): Promise<void> {
  await session.query("BEGIN");
}

/** False when the ROLLBACK itself failed: the connection is gone, and the transaction with it. */
async function rollBack(session: Session): Promise<boolean> {
  return session.query("ROLLBACK").then(
    () => true,
    () => false,
  );
}

/** Drops the database `name` (ending its sessions) and creates it empty; `server` is another database of that server. */
export async function recreateDatabase(server: Queryable, name: string): Promise<void> {
  const quoted = pg.escapeIdentifier(name);
  await server.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
  await server.query(`CREATE DATABASE ${quoted}`);
}

/** Query parameters of a PostgreSQL URL that hold secrets (the driver honours both). */
const SECRET_PARAMETERS = new Set(["password", "sslpassword"]);

/**
 * Hides the password of a PostgreSQL URL wherever it is written (`user:password@`,
 * `?password=`, `?sslpassword=`), so the URL can be shown to people.
 */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMETERS.has(name.toLowerCase())) parsed.searchParams.set(name, "***");
    }
    return parsed.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}
