// A page's request that fails getting its token failed at the identity service, and the
// run says so: not "(page 1, gave up …)". Driven through the real CLI.
import { afterEach, describe, expect, it } from "vitest";
import type { Fault } from "../src/simulator/server.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { parseLogLines } from "./support/cli.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("the identity service failing for good", () => {
  it.each<[string, Fault, RegExp]>([
    ["answering 503", { status: 503 }, /^The identity service answered 503 /],
    ["resetting the connection", { reset: true }, /^Could not reach the identity service at http:/],
  ])(
    "%s: the run fails naming the identity service and its token request",
    async (_how, fault, start) => {
      const r = (rig = await createCliRig({
        customers: sampleCustomers(5),
        env: { ELEMENTS_MAX_ATTEMPTS: "2" },
      }));
      r.simulator.injectFault({ ...fault, endpoint: "token", times: 100 });
      const result = await r.run(["sync"]);
      expect(result.code).toBe(1);
      const [run] = await r.db.query<{ status: string; error: string }>(
        "SELECT status, error FROM sync_runs",
      );
      expect(run?.status).toBe("failed");
      expect(run?.error).toMatch(start);
      expect(run?.error).toMatch(/ \(token request, gave up after 2 attempts\)$/);
      expect(run?.error).not.toContain("page 1");
      expect(result.stdout).toContain(run?.error);
      const lines = parseLogLines(result.stderr);
      const messages = lines.map((line) => line.msg);
      const tokenRetries = lines.filter((line) => line.msg === "token request failed; retrying");
      expect(tokenRetries).toHaveLength(1);
      // The token request is no page's: its lines do not name the page that waited for it.
      expect(tokenRetries[0]).not.toHaveProperty("pageIndex");
      expect(messages).not.toContain("customers request failed; retrying");
      await expectInvariants(r.db);
    },
  );
});
