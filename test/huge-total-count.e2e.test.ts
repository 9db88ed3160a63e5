// A totalCount beyond 32 bits: recorded as it is, whether the run succeeds or fails, and a
// failed run is never left `running` for the next run to call abandoned. Driven through the
// real CLI against the simulator answering page 1 with such a count.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

/** More than an integer column holds (2,147,483,647), and more than 32 bits. */
const HUGE = 5_000_000_000;
const PAGE_SIZE = 3;
const customers = sampleCustomers(6, 3);

let rig: CliRig;
beforeAll(async () => {
  rig = await createCliRig({
    customers,
    env: {
      ELEMENTS_PAGE_SIZE: String(PAGE_SIZE),
      ELEMENTS_MAX_ATTEMPTS: "1",
    },
  });
});
afterAll(() => rig.close());

/** Page 1 as the API would send it, but claiming `totalCount`. */
function pageOneClaiming(totalCount: number, data: readonly unknown[]) {
  return {
    status: 200,
    onPage: 1,
    body: JSON.stringify({ data, metadata: { pageIndex: 1, pageSize: PAGE_SIZE, totalCount } }),
  };
}

async function runRow(id: number) {
  const [row] = await rig.db.query(
    "SELECT status, error, api_total_count, pages_fetched FROM sync_runs WHERE id = $1",
    [id],
  );
  return row;
}

describe("a totalCount beyond 32 bits", () => {
  it("in a run that then fails: the failure is recorded with the count, and stays failed", async () => {
    rig.simulator.injectFault(pageOneClaiming(HUGE, customers.slice(0, PAGE_SIZE)));
    rig.simulator.injectFault({ status: 500, times: 8 });
    const result = await runCli(["sync"], rig.env());
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain("could not record the failed run");
    expect(await runRow(1)).toEqual({
      status: "failed",
      error: expect.stringContaining("500") as unknown,
      api_total_count: String(HUGE),
      pages_fetched: 1,
    });
    rig.simulator.clearFaults();

    // The next run finds nothing left running: run 1 keeps its true reason.
    const next = await runCli(["sync"], rig.env());
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toContain("abandoned");
    expect(await runRow(1)).toMatchObject({ status: "failed", api_total_count: String(HUGE) });
    await expectInvariants(rig.db);
  });

  it("in a run that succeeds: recorded, and read back by the reports as the number it is", async () => {
    const [one] = customers;
    if (!one) throw new Error("no customer");
    rig.simulator.injectFault(pageOneClaiming(HUGE, [one]));
    const result = await runCli(["sync", "--customer", one.id], rig.env());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^run 3 succeeded /);
    expect(await runRow(3)).toEqual({
      status: "succeeded",
      error: null,
      api_total_count: String(HUGE),
      pages_fetched: 1,
    });
    const report = await runCli(["report", "runs", "--format", "json", "--limit", "1"], rig.env());
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toEqual([
      expect.objectContaining({ run_id: 3, api_total_count: HUGE }),
    ]);
    await expectInvariants(rig.db);
  });
});
