// ELEMENTS_MAX_RESPONSE_BYTES: a response body over the cap fails the request at once,
// whether the server declares its length or streams without one.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createElementsClient } from "../src/elements/client.ts";
import { ElementsApiError } from "../src/elements/errors.ts";
import { captureLogs, openHarness, sampleCustomers } from "./support/harness.ts";
import { snapshotData } from "./support/data.ts";
import { expectInvariants } from "./support/invariants.ts";
import { failed, syncOk } from "./support/runs.ts";

let server: Server | undefined;
afterEach(async () => {
  const open = server;
  server = undefined;
  if (open) {
    open.closeAllConnections();
    await new Promise((resolve) => open.close(resolve));
  }
});

describe("ELEMENTS_MAX_RESPONSE_BYTES", () => {
  it("fails the run without retrying when a page is larger than the cap, changing nothing", async () => {
    const customers = sampleCustomers(20);
    const h = await openHarness({
      customers,
      pageSize: 10,
      maxResponseBytes: 65_536,
    });
    await syncOk(h);
    const before = await snapshotData(h.db);

    // Page 2 grows past 64 KiB: one customer's organization is 100,000 characters long.
    const [first, ...rest] = customers;
    if (!first) throw new Error("sample too small");
    await h.serve([...rest, { ...first, organization: "x".repeat(100_000) }]);
    const requestsBefore = h.simulator.requests.length;
    const run = await h.sync();
    expect(failed(run).error).toMatch(
      /^The Elements API sent a response body of \d+ bytes, more than ELEMENTS_MAX_RESPONSE_BYTES \(65536 bytes\) allows\./,
    );
    // Refused at once: page 2 was asked for once, not retried.
    const pages = h.simulator.requests.slice(requestsBefore).map((r) => r.pageIndex);
    expect(pages.filter((page) => page === 2)).toHaveLength(1);
    expect(await snapshotData(h.db)).toEqual(before);
    await expectInvariants(h.db);
  });

  it("applies to the identity service's token response too", async () => {
    const h = await openHarness({ maxResponseBytes: 4096 });
    h.simulator.injectFault({
      endpoint: "token",
      status: 200,
      body: JSON.stringify({ access_token: "t", expires_in: 3600, padding: "x".repeat(10_000) }),
    });
    const run = await h.sync();
    expect(failed(run).error).toMatch(
      /^The identity service sent a response body of \d+ bytes, more than ELEMENTS_MAX_RESPONSE_BYTES \(4096 bytes\) allows\./,
    );
    // Refused at once, not retried; no customers request was made.
    expect(h.simulator.requests.map((r) => r.path)).toEqual(["/connect/token"]);
    expect(await h.db.query("SELECT id FROM customers")).toEqual([]);
    await expectInvariants(h.db);
  });

  it("stops reading a body streamed without a length once it passes the cap", async () => {
    let chunksSent = 0;
    server = createServer((_request, response) => {
      // Chunked, no content-length: 1 KiB at a time until the client hangs up.
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"data":[');
      const send = () => {
        if (response.destroyed || chunksSent >= 10_000) return response.end();
        chunksSent += 1;
        response.write('"x",'.repeat(256), () => setImmediate(send));
      };
      send();
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const client = createElementsClient({
      apiUrl: `http://127.0.0.1:${port}`,
      tokens: { get: () => Promise.resolve("token"), invalidate: () => undefined },
      log: captureLogs().logger,
      timeoutMs: 10_000,
      maxAttempts: 3,
      maxRetryTimeMs: 10_000,
      maxResponseBytes: 64 * 1024,
    });
    const failure = await client.fetchPage({ pageIndex: 1, pageSize: 10 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ElementsApiError);
    expect((failure as Error).message).toBe(
      "The Elements API sent a response body of over 65536 bytes, more than ELEMENTS_MAX_RESPONSE_BYTES (65536 bytes) allows.",
    );
    // It hung up soon after the cap instead of reading all 10 MiB.
    expect(chunksSent).toBeLessThan(1000);
  });
});
