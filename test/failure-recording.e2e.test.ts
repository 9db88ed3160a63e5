// Recording a failed run cannot fail because of what it records: an error text PostgreSQL
// cannot store as it is (a NUL a server put in its answer) is made storable, and the run is
// recorded `failed` with it, not left `running` for the next run to call abandoned.
// Driven through the real CLI against the simulator.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

let rig: CliRig;
beforeAll(async () => {
  rig = await createCliRig({ customers: sampleCustomers(5), env: { ELEMENTS_MAX_ATTEMPTS: "1" } });
});
afterAll(() => rig.close());

describe("a failure whose error text PostgreSQL cannot store as it is", () => {
  it("is recorded failed, the NUL escaped, and the next run finds nothing left running", async () => {
    rig.simulator.injectFault({ status: 500, body: "upstream said: boom\u0000bang" });
    const result = await runCli(["sync"], rig.env());
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("could not record the failed run");
    const [row] = await rig.db.query<{ status: string; error: string }>(
      "SELECT status, error FROM sync_runs WHERE id = 1",
    );
    expect(row?.status).toBe("failed");
    expect(row?.error).toContain("upstream said: boom\\u0000bang");

    const next = await runCli(["sync"], rig.env());
    expect(next.code, next.stderr).toBe(0);
    expect(await rig.db.query("SELECT status FROM sync_runs ORDER BY id")).toEqual([
      { status: "failed" },
      { status: "succeeded" },
    ]);
    await expectInvariants(rig.db);
  });
});
