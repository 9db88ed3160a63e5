// A field AvePoint adds to the page envelope itself (beside data and metadata, or inside
// metadata) is named in a warning, once, like a new field of a record: the schema drops it,
// so it would otherwise pass unseen.
import { afterEach, describe, expect, it } from "vitest";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { succeeded } from "./support/runs.ts";

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe("new fields of the envelope", () => {
  it("are announced once in a warning, and the run goes on", async () => {
    const customers = sampleCustomers(3);
    const h = (harness = await createHarness({ customers }));
    const body = JSON.stringify({
      data: customers,
      metadata: { pageIndex: 1, pageSize: 10, totalCount: 3, nextLink: null },
      apiVersion: "3.1",
    });
    h.simulator.injectFault({ status: 200, body, onPage: 1, times: 2 });
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
});
