// A run's long transaction (the merge's, the lock's) whose heartbeat failed, its session
// stalled past the database timeout, says why when it is next used: the timeout, not the
// "Connection terminated unexpectedly" of a statement sent on the session the timeout closed.
import { afterEach, expect, inject, it } from "vitest";
import { openDatabase, type Database } from "../src/db.ts";
import { openLiveTransaction } from "../src/sync/live-transaction.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

const TIMEOUT_MS = 500;

let proxy: TcpProxy | undefined;
let db: Database | undefined;
let testDb: TestDatabase | undefined;
afterEach(async () => {
  proxy?.resume();
  await db?.close();
  await proxy?.close();
  await testDb?.drop();
});

it("fails its next use with the reason its heartbeat failed", async () => {
  testDb = await createTestDatabase("es_live_tx");
  proxy = await startTcpProxy(inject("adminDatabaseUrl"));
  db = openDatabase(proxy.route(testDb.url), { queryTimeoutMs: TIMEOUT_MS });
  let heartbeatFailed!: (message: string) => void;
  const failure = new Promise<string>((resolve) => (heartbeatFailed = resolve));
  const transaction = await openLiveTransaction(db.pool, {
    idleTimeoutMs: TIMEOUT_MS,
    onHeartbeatFailure: heartbeatFailed,
  });
  proxy.stall();
  const message = await failure;
  expect(message).toBe(
    `The database did not answer within ${TIMEOUT_MS} ms; closed the connection.`,
  );
  await expect(transaction.use((session) => session.query("SELECT 1"))).rejects.toThrow(message);
  await transaction.end();
});
