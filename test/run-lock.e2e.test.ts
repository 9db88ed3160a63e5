// The run lock as docs/operating.md's notes describe it: an EXCLUSIVE lock on the view
// sync_run_lock, held by a transaction that stays idle for the run without a snapshot or a
// transaction id (so it holds back neither vacuum nor anyone else), which VACUUM, ANALYZE
// and plain reads never wait for.
import { describe, expect, it } from "vitest";
import { SYNC_LOCK_RELATION } from "../src/sync/lock.ts";
import { openHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { succeeded } from "./support/runs.ts";

describe("the run lock", () => {
  it("is an idle transaction holding no snapshot, which VACUUM, ANALYZE and reads pass by", async () => {
    const h = await openHarness({ customers: sampleCustomers(12), pageSize: 5 });
    // Page 2 waits until the test has looked: the run holds its lock meanwhile.
    let reached!: () => void;
    let release!: () => void;
    const atPage2 = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    h.simulator.onCustomersRequest(async (request) => {
      if (request.pageIndex !== 2) return undefined;
      reached();
      await released;
      return undefined;
    });
    const running = h.sync({ concurrency: 1 });
    await atPage2;
    try {
      const holders = await h.db.query(
        `SELECT a.state, a.backend_xid IS NULL AS "noXid", a.backend_xmin IS NULL AS "noSnapshot",
                l.mode
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.relation = to_regclass($1) AND l.granted`,
        [SYNC_LOCK_RELATION],
      );
      expect(holders).toEqual([
        { state: "idle in transaction", noXid: true, noSnapshot: true, mode: "ExclusiveLock" },
      ]);
      // Each would hang here, with the run held at page 2, if it waited for the lock.
      await h.db.query("VACUUM");
      await h.db.query("ANALYZE");
      expect(await h.db.query(`SELECT held FROM ${SYNC_LOCK_RELATION}`)).toEqual([{ held: true }]);
    } finally {
      release();
    }
    expect(succeeded(await running)).toMatchObject({ complete: true, customersAdded: 12 });
    await expectInvariants(h.db);
  });
});
