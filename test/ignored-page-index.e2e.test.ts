// A server that ignores pageIndex, serving page 1's records for every page or naming
// another page than the one asked for: detected, named in the run's reason and a warning,
// and the paging stops there. Nothing is removed. Driven through the real CLI.
import { afterEach, describe, expect, it } from "vitest";
import type { Fault } from "../src/simulator/server.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { expectDataMatches, snapshotData } from "./support/data.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

/** Ten pages of 20. */
const customers = sampleCustomers(200);

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("a server that ignores pageIndex", () => {
  // Page 2's answer names the wrong page at once; that it repeats page 1 shows once it is
  // staged, by when the one worker may have asked for up to three more pages.
  it.each<[string, Fault, string, number]>([
    [
      "serves page 1 for every page",
      { ignorePageIndex: true },
      "page 2 added no customer earlier pages had not (the API seems to ignore pageIndex)",
      5,
    ],
    [
      "answers every page as page 1",
      { reportPageIndex: 1 },
      "the API answered the request for page 2 as page 1 (it ignores pageIndex)",
      2,
    ],
  ])(
    "%s: the run is incomplete naming it, and removes nothing",
    async (_what, fault, cause, lastPage) => {
      const r = (rig = await createCliRig({
        customers,
        env: { ELEMENTS_PAGE_SIZE: "20", ELEMENTS_CONCURRENCY: "1" },
      }));
      expect((await r.run(["sync"])).code).toBe(0);
      const before = await snapshotData(r.db, { withoutLastSeen: true });

      r.simulator.injectFault({ ...fault, times: 1_000 });
      const requestsBefore = r.simulator.requests.length;
      const result = await r.run(["sync"]);
      expect(result.code).toBe(0);
      const reason = `paging stopped early: ${cause}`;
      expect(result.stdout).toContain(`(incomplete: ${reason})`);
      const [run] = await r.db.query(
        "SELECT status, complete, incomplete_reason FROM sync_runs ORDER BY id DESC LIMIT 1",
      );
      expect(run).toEqual({ status: "succeeded", complete: false, incomplete_reason: reason });
      const warned = result.stderr
        .split("\n")
        .filter((line) =>
          line.includes('"msg":"stopped paging early: the run will be incomplete"'),
        );
      expect(warned).toHaveLength(1);
      expect(warned[0]).toContain(cause);
      // One request at a time, and paging stopped long before the ten pages totalCount implies:
      // at most one request beyond the page that told, sent while that page was checked.
      const pages = r.simulator.requests
        .slice(requestsBefore)
        .flatMap((request) => (request.pageIndex === undefined ? [] : [request.pageIndex]));
      expect(pages.slice(0, 2)).toEqual([1, 2]);
      expect(Math.max(...pages)).toBeLessThanOrEqual(lastPage + 1);
      expect(await snapshotData(r.db, { withoutLastSeen: true })).toEqual(before);
      await expectDataMatches(r.db, customers);
      await expectInvariants(r.db);
    },
  );
});
