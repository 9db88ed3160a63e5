// A server that sends its headers and then trickles its body, one byte at a time: from the
// customers endpoint or from the identity service. ELEMENTS_TIMEOUT_MS covers the whole
// exchange, so a stalled body is a timeout (retried, then the run fails naming it), and a
// signal cancels the read at once. Driven through the real CLI, `sync` and `start`.
import { afterEach, describe, expect, it } from "vitest";
import { SHUTDOWN_GRACE_MS } from "../src/worker/shutdown.ts";
import { createCliRig, logged, logLine, runOutcomes, type CliRig } from "./support/cli-rig.ts";
import { expectDataMatches } from "./support/data.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

const customers = sampleCustomers(30);
/** Each answer trickles far slower than the timeout allows: 1 byte per 100 ms. */
const TRICKLE = { trickleMs: 100 };

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function start(env: Record<string, string> = {}): Promise<CliRig> {
  rig = await createCliRig({
    customers,
    env: { ELEMENTS_PAGE_SIZE: "10", ELEMENTS_MAX_ATTEMPTS: "2", LOG_LEVEL: "debug", ...env },
  });
  return rig;
}

describe("ELEMENTS_TIMEOUT_MS covers the body", () => {
  it("a page whose body trickles times out and is retried; the run succeeds", async () => {
    const r = await start({ ELEMENTS_TIMEOUT_MS: "500" });
    r.simulator.injectFault({ ...TRICKLE, onPage: 2 });
    const result = await r.run(["sync"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^run 1 succeeded in [\d.]+ s: 30 customers \(complete\)/);
    const retried = r.simulator.requests.filter((request) => request.pageIndex === 2);
    expect(retried.map((request) => request.fault)).toEqual(["trickle 1 byte/100 ms", undefined]);
    await expectDataMatches(r.db, customers);
    await expectInvariants(r.db);
  });

  it("a page that trickles at every attempt fails the run naming the page, changing nothing", async () => {
    const r = await start({ ELEMENTS_TIMEOUT_MS: "500" });
    r.simulator.injectFault({ ...TRICKLE, onPage: 1, times: 100 });
    const result = await r.run(["sync"]);
    expect(result.code).toBe(1);
    const error =
      "The Elements API did not answer in time: its answer (200) was not complete within " +
      "ELEMENTS_TIMEOUT_MS (500 ms) (page 1, gave up after 2 attempts)";
    expect(result.stdout).toMatch(/^run 1 failed after [\d.]+ s: /);
    expect(result.stdout).toContain(error);
    expect(await runOutcomes(r.db)).toEqual([{ status: "failed", error }]);
    expect(await r.db.query("SELECT id FROM customers")).toEqual([]);
    await expectInvariants(r.db);
  });

  it("a token answer that trickles fails the run naming the identity service", async () => {
    const r = await start({ ELEMENTS_TIMEOUT_MS: "500" });
    r.simulator.injectFault({ ...TRICKLE, endpoint: "token", times: 100 });
    const result = await r.run(["sync"]);
    expect(result.code).toBe(1);
    const error =
      "The identity service did not answer in time: its answer (200) was not complete within " +
      "ELEMENTS_TIMEOUT_MS (500 ms) (token request, gave up after 2 attempts)";
    expect(await runOutcomes(r.db)).toEqual([{ status: "failed", error }]);
    expect(result.stdout).toContain(error);
    // No customers request could be sent without a token.
    expect(r.simulator.requests.map((request) => request.path)).toEqual([
      "/connect/token",
      "/connect/token",
    ]);
  });
});

describe("a signal during a trickling read", () => {
  it.each([
    ["the customers endpoint", "api", { onPage: 1 }],
    ["the identity service", "identity", { endpoint: "token" as const }],
  ])(
    "from %s: SIGTERM ends the read at once; the run is recorded interrupted",
    async (_server, service, where) => {
      // A timeout far beyond the test: only the signal can end this read.
      const r = await start({ ELEMENTS_TIMEOUT_MS: "600000", LOG_LEVEL: "trace" });
      r.simulator.injectFault({ ...TRICKLE, ...where });
      const sync = r.spawn(["sync"]);
      // The headers have arrived: what follows is the body trickling in.
      await logLine(
        sync,
        (line) => line.msg === "answer received" && line.service === service && line.status === 200,
      );
      const sent = performance.now();
      sync.child.kill("SIGTERM");
      const exit = await sync.exited;
      expect(exit.code).toBe(1);
      expect(exit.at - sent).toBeLessThan(SHUTDOWN_GRACE_MS);
      expect(sync.stdout()).toMatch(/^run 1 failed after [\d.]+ s: interrupted\n$/);
      expect(sync.logs().map((line) => line.msg)).not.toContain(
        "did not stop in time: exiting at once",
      );
      expect(await runOutcomes(r.db)).toEqual([{ status: "failed", error: "interrupted" }]);
      await expectInvariants(r.db);
    },
  );
});

describe("elements-sync start", () => {
  it("fails a run whose token answer trickles and runs the next fire", async () => {
    const r = await start({ ELEMENTS_TIMEOUT_MS: "500", SYNC_CRON: "* * * * * *" });
    // Both attempts of the first run trickle; the next fire gets real answers.
    r.simulator.injectFault({ ...TRICKLE, endpoint: "token", times: 2 });
    const worker = r.spawn(["start"]);
    await logLine(worker, (line) => line.msg === "sync run succeeded");
    worker.child.kill("SIGTERM");
    expect((await worker.exited).code).toBe(0);
    const [first, ...later] = await runOutcomes(r.db);
    expect(first).toEqual({
      status: "failed",
      error: expect.stringMatching(
        /^The identity service did not answer in time: .*\(token request, gave up after 2 attempts\)$/,
      ) as unknown,
    });
    expect(later.map((run) => run.status)).toContain("succeeded");
    // The failed run let go of the lock: no fire was refused by it.
    expect(logged(worker, "skipped a run: another run holds the database")).toEqual([]);
    await expectDataMatches(r.db, customers);
    await expectInvariants(r.db);
  });
});
