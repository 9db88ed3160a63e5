// A host that cannot be found or reached on a run's first request is a wrong setting until
// proven otherwise: the run fails at once, naming the variable to check. A host that has
// answered before and then stops is an outage, retried as any network fault.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { TokenSource } from "../src/elements/auth.ts";
import { createElementsClient } from "../src/elements/client.ts";
import { createLogger } from "../src/logger.ts";
import { createCliRig, type CliRig } from "./support/cli-rig.ts";
import { freePort, parseLogLines } from "./support/cli.ts";
import { sampleCustomers } from "./support/harness.ts";

let rig: CliRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Retried lines of either request, from a run's log. */
function retries(stderr: string): unknown[] {
  return parseLogLines(stderr).filter((line) => /failed; retrying$/.test(String(line.msg)));
}

describe("a host that is not there on the first request", () => {
  it("an API port nothing listens on fails the run at once, naming ELEMENTS_API_URL", async () => {
    const r = (rig = await createCliRig({ customers: sampleCustomers(5) }));
    const port = await freePort();
    const result = await r.run(["sync"], { ELEMENTS_API_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `Could not reach the Elements API at 127.0.0.1:${port} on the first request (ECONNREFUSED`,
    );
    expect(result.stdout).toContain("Check ELEMENTS_API_URL.");
    expect(retries(result.stderr)).toEqual([]);
    // The token came from the simulator; the one page request went nowhere.
    expect(r.simulator.requests.map((request) => request.path)).toEqual(["/connect/token"]);
    const [run] = await r.db.query<{ status: string; error: string }>(
      "SELECT status, error FROM sync_runs",
    );
    expect(run?.status).toBe("failed");
    expect(run?.error).toMatch(/^Could not reach the Elements API .* Check ELEMENTS_API_URL\.$/);
  });

  it("an identity host that does not resolve fails at once, naming ELEMENTS_IDENTITY_URL", async () => {
    const r = (rig = await createCliRig({ customers: sampleCustomers(5) }));
    const result = await r.run(["sync"], { ELEMENTS_IDENTITY_URL: "http://nonexistent.invalid" });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /Could not reach the identity service at nonexistent\.invalid on the first request \((ENOTFOUND|EAI_AGAIN)/,
    );
    expect(result.stdout).toContain("Check ELEMENTS_IDENTITY_URL.");
    expect(retries(result.stderr)).toEqual([]);
    expect(r.simulator.requests).toEqual([]);
  });
});

describe("a host that answered before", () => {
  it("refusing connections later is retried like any network fault", async () => {
    // Answers page 1, then stops listening: page 2's connections are refused.
    const server = createServer((_request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify({ data: [], metadata: { pageIndex: 1, pageSize: 10, totalCount: 30 } }),
      );
      server.close();
      server.closeAllConnections();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const lines: Record<string, unknown>[] = [];
    const log = createLogger("warn", {
      write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    const tokens: TokenSource = { get: () => Promise.resolve("t"), invalidate: () => undefined };
    const url = `http://127.0.0.1:${port}`;
    const client = createElementsClient({
      apiUrl: url,
      tokens,
      log,
      timeoutMs: 5000,
      maxAttempts: 3,
      maxRetryTimeMs: 20_000,
      retryDelayMs: 10,
      hosts: {
        api: { url, variable: "ELEMENTS_API_URL" },
        identity: { url, variable: "ELEMENTS_IDENTITY_URL" },
      },
    });
    await client.fetchPage({ pageIndex: 1, pageSize: 10 });
    await expect(client.fetchPage({ pageIndex: 2, pageSize: 10 })).rejects.toThrow(
      /^Could not reach the Elements API \(.*ECONNREFUSED.*\) \(page 2, gave up after 3 attempts\)$/,
    );
    expect(lines.map((line) => [line.msg, line.pageIndex])).toEqual([
      ["customers request failed; retrying", 2],
      ["customers request failed; retrying", 2],
    ]);
  });
});
