// LOG_LEVEL=trace prints trace lines: one as each request is sent, one when its answer
// arrives and one when it has been read, for the API and the identity service alike, and
// none of them holds a secret. Driven through the real CLI.
import { afterEach, describe, expect, it } from "vitest";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { parseLogLines } from "./support/cli.ts";
import { sampleCustomers } from "./support/harness.ts";

const TRACE = 10;

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("LOG_LEVEL=trace", () => {
  it("logs each request and answer, without secrets", async () => {
    const r = (rig = await createCliRig({
      customers: sampleCustomers(25),
      env: { ELEMENTS_PAGE_SIZE: "10", LOG_LEVEL: "trace" },
    }));
    const result = await r.run(["sync"]);
    expect(result.code).toBe(0);
    const traced = parseLogLines(result.stderr).filter((line) => line.level === TRACE);
    const customerPages = traced
      .filter((line) => line.service === "api" && line.msg === "request sent")
      .map((line) => line.pageIndex);
    expect(customerPages.sort()).toEqual([1, 2, 3]);
    for (const msg of ["request sent", "answer received", "answer read"]) {
      expect(traced.filter((line) => line.service === "api" && line.msg === msg)).toHaveLength(3);
      expect(traced.filter((line) => line.service === "identity" && line.msg === msg)).toEqual([
        expect.objectContaining({ url: `${r.simulator.url}/connect/token` }),
      ]);
    }
    for (const line of traced.filter((one) => one.msg === "answer read")) {
      expect(line).toMatchObject({ status: 200, ms: expect.any(Number) as unknown });
    }
    const secrets = ["demo-secret", ...r.simulator.issuedTokens()];
    expect(secrets).toHaveLength(2);
    for (const secret of secrets) expect(result.stderr).not.toContain(secret);
  });
});
