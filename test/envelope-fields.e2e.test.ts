// A field AvePoint adds to the page envelope itself (beside data and metadata, or inside
// metadata) is named in a warning, once, like a new field of a record, and in the
// sync_runs.new_fields of every run that meets it: the schema drops it, so it would
// otherwise pass unseen.
import { describe, expect, it } from "vitest";
import type { SimulatedCustomer } from "../src/simulator/data.ts";
import { openHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { succeeded, syncOk } from "./support/runs.ts";

/** Page 1 (of two runs) served with `customers` in an envelope with two fields undocumented. */
function serveEnvelopeWithNewFields(h: Harness, customers: SimulatedCustomer[]): void {
  const body = JSON.stringify({
    data: customers,
    metadata: { pageIndex: 1, pageSize: 10, totalCount: customers.length, nextLink: null },
    apiVersion: "3.1",
  });
  h.simulator.injectFault({ status: 200, body, onPage: 1, times: 2 });
}

describe("new fields of the envelope", () => {
  it("are announced once in a warning, and the run goes on", async () => {
    const customers = sampleCustomers(3);
    const h = await openHarness({ customers });
    serveEnvelopeWithNewFields(h, customers);
    succeeded(await h.sync());
    succeeded(await h.sync());
    const warnings = h.logs.filter((line) =>
      String(line.msg).startsWith("fields outside the documented envelope"),
    );
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        newFields: ["apiVersion", "metadata.nextLink"],
        msg: "fields outside the documented envelope: apiVersion, metadata.nextLink; not stored",
      }),
    ]);
  });

  it("are recorded in each run's new_fields that meets them, apart from the records' own", async () => {
    // The records carry a field of the same name as the envelope's: two names, not one.
    const customers = sampleCustomers(3).map((customer) => ({ ...customer, apiVersion: "r" }));
    const h = await openHarness({ customers });
    serveEnvelopeWithNewFields(h, customers);
    const both = ["(envelope).apiVersion", "(envelope).metadata.nextLink", "apiVersion"];
    const first = await syncOk(h);
    const second = await syncOk(h);
    // The envelope as documented again: only the records' field is left.
    const third = await syncOk(h);
    expect([first.newFields, second.newFields, third.newFields]).toEqual([
      both,
      both,
      ["apiVersion"],
    ]);
    const rows = await h.db.query<{ new_fields: string[] }>(
      "SELECT new_fields FROM sync_runs ORDER BY id",
    );
    expect(rows.map((row) => row.new_fields)).toEqual([both, both, ["apiVersion"]]);
    // The records' warning, once a run, names theirs only: the envelope's is the client's.
    const recordWarnings = h.logs.filter((line) =>
      String(line.msg).startsWith("fields outside the documented set"),
    );
    expect(recordWarnings.map((line) => [line.runId, line.newFields])).toEqual([
      [first.runId, ["apiVersion"]],
      [second.runId, ["apiVersion"]],
      [third.runId, ["apiVersion"]],
    ]);
  });
});
