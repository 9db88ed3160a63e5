// The simulator's faults for a hostile server, over real HTTP: an answer whose body
// trickles in one byte at a time, and paging metadata that lies (totalCount, a pageIndex
// that is ignored or misreported).
import { afterEach, describe, expect, it } from "vitest";
import { CUSTOMERS_PATH } from "../src/elements/resources.ts";
import { generateCustomers } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { getToken, requestToken } from "./support/simulator-http.ts";

interface PageBody {
  data: { id: string }[];
  metadata: { pageIndex: number; pageSize: number; totalCount: number };
}

let simulator: Simulator | undefined;
afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function start(): Promise<Simulator> {
  simulator = await startSimulator({ customers: 0 });
  simulator.setCustomers(generateCustomers(30, 5));
  return simulator;
}

async function page(s: Simulator, pageIndex: number): Promise<PageBody> {
  const token = await getToken(s);
  const response = await fetch(`${s.url}/${CUSTOMERS_PATH}?pageIndex=${pageIndex}&pageSize=10`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(response.status).toBe(200);
  return (await response.json()) as PageBody;
}

describe("trickleMs", () => {
  it("sends the headers, then the real body one byte at a time", async () => {
    const s = await start();
    s.injectFault({ endpoint: "token", trickleMs: 1 });
    const response = await requestToken(s);
    expect(response.status).toBe(200);
    const chunks: Uint8Array[] = [];
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(20);
    expect(chunks.every((chunk) => chunk.byteLength === 1)).toBe(true);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: "Bearer",
      access_token: expect.any(String) as unknown,
    });
    expect(s.requests.at(-1)?.fault).toBe("trickle 1 byte/1 ms");
  });

  it("trickles a fault's own answer too", async () => {
    const s = await start();
    s.injectFault({ endpoint: "token", status: 503, trickleMs: 1 });
    const response = await requestToken(s);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "simulated_fault" });
  });
});

describe("paging lies", () => {
  it("totalCount says what the fault says", async () => {
    const s = await start();
    s.injectFault({ totalCount: 1_000_000_000 });
    const first = await page(s, 1);
    expect(first.metadata).toEqual({ pageIndex: 1, pageSize: 10, totalCount: 1_000_000_000 });
    expect(first.data).toHaveLength(10);
    expect((await page(s, 4)).data).toEqual([]);
  });

  it("ignorePageIndex serves page 1 whatever is asked, and echoes the ask", async () => {
    const s = await start();
    const first = await page(s, 1);
    s.injectFault({ ignorePageIndex: true });
    const second = await page(s, 2);
    expect(second.data).toEqual(first.data);
    expect(second.metadata.pageIndex).toBe(2);
  });

  it("reportPageIndex names another page than the one served", async () => {
    const s = await start();
    const honest = await page(s, 2);
    s.injectFault({ reportPageIndex: 1 });
    const lying = await page(s, 2);
    expect(lying.data).toEqual(honest.data);
    expect(lying.metadata.pageIndex).toBe(1);
  });

  it("refuses faults that cannot be served", async () => {
    const s = await start();
    expect(() => {
      s.injectFault({ endpoint: "token", totalCount: 5 });
    }).toThrow(/apply to customers faults only/);
    expect(() => {
      s.injectFault({ reset: true, trickleMs: 10 });
    }).toThrow(/a reset sends no answer/);
    expect(() => {
      s.injectFault({ status: 500, ignorePageIndex: true });
    }).toThrow(/spoil the real page/);
    expect(() => {
      s.injectFault({ trickleMs: 0 });
    }).toThrow(RangeError);
  });
});
