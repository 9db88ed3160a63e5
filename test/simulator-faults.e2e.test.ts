// The simulator's hostile side, over real HTTP: data that changes between page fetches,
// corrupted pages, token expiry as a fault, and the seeded chaos mode.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CUSTOMERS_PATH } from "../src/elements/resources.ts";
import { parseRetryAfter } from "../src/elements/retry.ts";
import { CHAOS_KINDS, type ChaosKind } from "../src/simulator/chaos.ts";
import { generateCustomers, writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "../src/simulator/server.ts";
import { runCli, spawnCli } from "./support/cli.ts";
import { getToken, requestToken } from "./support/simulator-http.ts";

interface PageBody {
  data: Record<string, unknown>[];
  metadata: { pageIndex: number; pageSize: number; totalCount: number };
}

const running: Simulator[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((simulator) => simulator.close()));
});
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = await startSimulator(options);
  running.push(simulator);
  return simulator;
}

/** A token, or "" when the token endpoint failed (as chaos makes it). */
async function tryToken(simulator: Simulator): Promise<string> {
  const response = await requestToken(simulator).catch(() => undefined);
  if (response?.status !== 200) return "";
  return ((await response.json()) as { access_token: string }).access_token;
}

function requestPage(
  simulator: Simulator,
  token: string,
  pageIndex = 1,
  pageSize = 5,
  filter: object = {},
): Promise<Response> {
  return fetch(`${simulator.url}/${CUSTOMERS_PATH}?pageIndex=${pageIndex}&pageSize=${pageSize}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(filter),
  });
}

async function getPage(simulator: Simulator, token: string, pageIndex = 1): Promise<PageBody> {
  const response = await requestPage(simulator, token, pageIndex);
  expect(response.status).toBe(200);
  return (await response.json()) as PageBody;
}

const ids = (page: PageBody) => page.data.map((record) => record.id);

describe("data that changes during a run", () => {
  it("setCustomers wins over the data file until it is cleared", async () => {
    const dir = mkdtempSync(join(tmpdir(), "elements-sync-sim-"));
    tempDirs.push(dir);
    const file = join(dir, "customers.json");
    const fromFile = generateCustomers(3, 1);
    await writeCustomersFile(file, fromFile);
    const simulator = await start({ dataFile: file });
    const token = await getToken(simulator);

    const inMemory = generateCustomers(2, 2);
    simulator.setCustomers(inMemory);
    expect(ids(await getPage(simulator, token))).toEqual(inMemory.map((c) => c.id));
    simulator.setCustomers(undefined);
    expect(ids(await getPage(simulator, token))).toEqual(fromFile.map((c) => c.id));
  });

  it("a hook that inserts before page 2 shifts its offset and changes totalCount", async () => {
    const customers = generateCustomers(10, 3);
    const simulator = await start();
    simulator.setCustomers(customers);
    const inserted = { ...generateCustomers(1, 4)[0], id: "inserted" };
    const seen: { pageIndex: number; customerIds: readonly string[] | undefined; count: number }[] =
      [];
    simulator.onCustomersRequest(({ pageIndex, customerIds, customers: current }) => {
      seen.push({ pageIndex, customerIds, count: current.length });
      return pageIndex === 2 && current.length === 10 ? [inserted, ...current] : undefined;
    });
    const token = await getToken(simulator);

    const first = await getPage(simulator, token, 1);
    const second = await getPage(simulator, token, 2);
    expect(first.metadata.totalCount).toBe(10);
    expect(second.metadata.totalCount).toBe(11);
    // The last customer of page 1 moved to page 2: served twice.
    expect(ids(second)[0]).toBe(customers[4]?.id);
    expect(ids(first)).toContain(customers[4]?.id);

    const filtered = await requestPage(simulator, token, 1, 5, { customerIds: ["inserted"] });
    expect(((await filtered.json()) as PageBody).data).toEqual([inserted]);
    expect(seen).toEqual([
      { pageIndex: 1, customerIds: undefined, count: 10 },
      { pageIndex: 2, customerIds: undefined, count: 10 },
      { pageIndex: 1, customerIds: ["inserted"], count: 11 },
    ]);
  });

  it("an async hook is awaited, and a deletion skips a record on a later page", async () => {
    const customers = generateCustomers(10, 5);
    const simulator = await start();
    simulator.setCustomers(customers);
    simulator.onCustomersRequest(async ({ pageIndex, customers: current }) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return pageIndex === 2 ? current.slice(1) : undefined;
    });
    const token = await getToken(simulator);
    await getPage(simulator, token, 1);
    const second = await getPage(simulator, token, 2);
    expect(second.metadata.totalCount).toBe(9);
    // customers[5] slid onto page 1, which was already fetched: no page serves it now.
    expect(ids(second)).toEqual(customers.slice(6).map((c) => c.id));
    simulator.onCustomersRequest(undefined);
    expect((await getPage(simulator, token, 1)).metadata.totalCount).toBe(9);
  });
});

describe("page corruption and token expiry as faults", () => {
  async function corrupted(fault: Parameters<Simulator["injectFault"]>[0]) {
    const customers = generateCustomers(10, 6);
    const simulator = await start();
    simulator.setCustomers(customers);
    const token = await getToken(simulator);
    const clean = await (await requestPage(simulator, token, 1)).text();
    simulator.injectFault(fault);
    const response = await requestPage(simulator, token, 1);
    expect(response.status).toBe(200);
    expect(simulator.requests.at(-1)?.fault).toBe(fault.corrupt);
    return { customers, clean, text: await response.text() };
  }

  it("truncated-json serves a 200 whose body is the first half of the real one", async () => {
    const { clean, text } = await corrupted({ corrupt: "truncated-json" });
    expect(clean.startsWith(text)).toBe(true);
    expect(text.length).toBe(Math.floor(clean.length / 2));
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it("wrong-shape serves valid JSON without the data field", async () => {
    const { clean, text } = await corrupted({ corrupt: "wrong-shape" });
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).not.toHaveProperty("data");
    expect(body.items).toEqual((JSON.parse(clean) as PageBody).data);
  });

  it("spoils exactly the record asked for: missing id, wrong type, unknown code", async () => {
    const missing = await corrupted({ corrupt: "missing-id", record: 2 });
    const page = JSON.parse(missing.text) as PageBody;
    expect(page.data[2]).not.toHaveProperty("id");
    expect(page.data.filter((record) => "id" in record)).toHaveLength(4);

    const wrongType = (await corrupted({ corrupt: "wrong-type", record: 7 })).text;
    // record 7 wraps around to position 2 of a 5-record page.
    expect((JSON.parse(wrongType) as PageBody).data.map((r) => typeof r.jobStatus)).toEqual([
      "number",
      "number",
      "string",
      "number",
      "number",
    ]);

    const unknown = JSON.parse((await corrupted({ corrupt: "unknown-code" })).text) as PageBody;
    expect(unknown.data[0]?.jobStatus).toBe(99);
  });

  it("duplicate puts the next page's first customer in place of one on this page", async () => {
    const { customers, text } = await corrupted({ corrupt: "duplicate", record: 1 });
    const page = JSON.parse(text) as PageBody;
    expect(ids(page)).toEqual([
      customers[0]?.id,
      customers[5]?.id,
      customers[2]?.id,
      customers[3]?.id,
      customers[4]?.id,
    ]);
  });

  it("expireTokens makes that very request a 401 and leaves new tokens valid", async () => {
    const simulator = await start({ customers: 3 });
    const token = await getToken(simulator);
    simulator.injectFault({ expireTokens: true, onPage: 2 });
    expect((await requestPage(simulator, token, 1)).status).toBe(200);
    expect((await requestPage(simulator, token, 2)).status).toBe(401);
    expect(simulator.requests.at(-1)).toMatchObject({ status: 401, fault: "expire tokens" });
    expect((await requestPage(simulator, await getToken(simulator), 2)).status).toBe(200);
  });

  it("refuses faults that cannot be served", async () => {
    const simulator = await start();
    expect(() => {
      simulator.injectFault({ corrupt: "duplicate", endpoint: "token" });
    }).toThrow(/customers faults only/);
    expect(() => {
      simulator.injectFault({ expireTokens: true, endpoint: "token" });
    }).toThrow(/do not apply to token faults/);
    expect(() => {
      simulator.injectFault({ corrupt: "truncated-json", status: 500 });
    }).toThrow(/no status or reset/);
  });
});

describe("chaos mode", () => {
  /** Statuses and fault labels of a fixed sequence of sequential requests. */
  async function sequence(options: SimulatorOptions): Promise<string[]> {
    const simulator = await start({ customers: 12, ...options });
    let token = "";
    for (let i = 0; i < 40; i++) {
      if (token === "" || i % 10 === 0) {
        token = await tryToken(simulator);
        if (token === "") continue;
      }
      const response = await requestPage(simulator, token, (i % 3) + 1).catch(() => undefined);
      if (response?.status === 401) token = "";
      await response?.arrayBuffer();
    }
    await simulator.close();
    return simulator.requests.map((r) => `${r.path} ${r.status} ${r.fault ?? ""}`);
  }

  const everything = { seed: 42, rate: 0.5, slowMs: 5 };

  it("is deterministic for a seed and a request order, and differs between seeds", async () => {
    const first = await sequence({ chaos: everything });
    const again = await sequence({ chaos: everything });
    expect(again).toEqual(first);
    expect(first.filter((line) => line.includes("chaos")).length).toBeGreaterThan(5);
    expect(await sequence({ chaos: { ...everything, seed: 43 } })).not.toEqual(first);
  });

  it("with rate 0 injects nothing, and setChaos turns it on and off", async () => {
    const simulator = await start({ customers: 3, chaos: { seed: 1, rate: 0 } });
    const token = await getToken(simulator);
    for (let i = 0; i < 10; i++) expect((await requestPage(simulator, token)).status).toBe(200);
    simulator.setChaos({ seed: 1, rate: 1, kinds: ["forbidden"] });
    expect((await requestPage(simulator, token)).status).toBe(403);
    simulator.setChaos(undefined);
    expect((await requestPage(simulator, token)).status).toBe(200);
    expect(simulator.requests.filter((r) => r.fault !== undefined)).toHaveLength(1);
  });

  it("draws server errors from 500, 502, 503 and 504 only, on the customers endpoint only", async () => {
    const simulator = await start({ customers: 3 });
    const token = await getToken(simulator);
    simulator.setChaos({ seed: 7, rate: 1, kinds: ["server-error"] });
    const statuses = new Set<number>();
    for (let i = 0; i < 40; i++) statuses.add((await requestPage(simulator, token)).status);
    expect([...statuses].sort()).toEqual([500, 502, 503, 504]);
    expect(await getToken(simulator)).not.toBe("");
  });

  it("keeps Retry-After within a second, in seconds and as an HTTP date", async () => {
    const simulator = await start({ customers: 3 });
    const token = await getToken(simulator);
    for (const kind of ["rate-limited", "rate-limited-date"] as const) {
      simulator.setChaos({ seed: 3, rate: 1, kinds: [kind] });
      for (let i = 0; i < 10; i++) {
        const response = await requestPage(simulator, token);
        expect(response.status).toBe(429);
        const header = response.headers.get("retry-after") ?? "";
        expect(header).toMatch(kind === "rate-limited" ? /^[01]$/ : /GMT$/);
        const waitMs = parseRetryAfter(header);
        expect(waitMs).toBeGreaterThanOrEqual(0);
        expect(waitMs).toBeLessThanOrEqual(1000);
      }
    }
  });

  it("faults the token endpoint with token kinds only", async () => {
    const simulator = await start({ customers: 3 });
    const token = await getToken(simulator);
    simulator.setChaos({ seed: 9, rate: 1, kinds: ["token-server-error", "token-rate-limited"] });
    expect((await requestPage(simulator, token)).status).toBe(200);
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      statuses.add((await requestToken(simulator)).status);
    }
    expect([...statuses].sort()).toEqual([429, 500, 503]);
  });

  it.each(
    CHAOS_KINDS.map((kind): [ChaosKind, RegExp] => [
      kind,
      {
        "rate-limited": /^429$/,
        "rate-limited-date": /^429$/,
        "server-error": /^50[0234]$/,
        reset: /^0$/,
        slow: /^200$/,
        forbidden: /^403$/,
        "truncated-json": /^200$/,
        "wrong-shape": /^200$/,
        "missing-id": /^200$/,
        "wrong-type": /^200$/,
        "unknown-code": /^200$/,
        duplicate: /^200$/,
        "token-expiry": /^401$/,
        "token-server-error": /^50[03]$/,
        "token-reset": /^0$/,
        "token-rate-limited": /^429$/,
      }[kind],
    ]),
  )("%s can be drawn and is logged as a chaos fault", async (kind, status) => {
    const simulator = await start({ customers: 12 });
    const token = await getToken(simulator);
    simulator.setChaos({ seed: 5, rate: 1, kinds: [kind], slowMs: 5 });
    if (kind.startsWith("token-") && kind !== "token-expiry") {
      await tryToken(simulator);
    } else {
      await requestPage(simulator, token).catch(() => undefined);
    }
    const last = simulator.requests.at(-1);
    expect(last?.fault).toBe(`chaos ${kind}`);
    expect(String(last?.status)).toMatch(status);
  });

  it("refuses a rate outside 0 to 1 and unknown kinds", async () => {
    await expect(start({ chaos: { seed: 1, rate: 1.5 } })).rejects.toThrow(/rate/);
    const simulator = await start();
    expect(() => {
      simulator.setChaos({ seed: 1, rate: 0.5, kinds: ["meteor" as ChaosKind] });
    }).toThrow(/unknown chaos kind meteor/);
  });
});

describe("simulate --fault-rate", () => {
  it("serves chaos from the command line, and refuses a rate outside 0 to 1", async () => {
    const simulate = spawnCli(["simulate", "--fault-rate", "1", "--fault-seed", "4"], {});
    try {
      await expect
        .poll(() => /listening on (http:\/\/\S+)/.exec(simulate.stdout())?.[1], {
          timeout: 20_000,
        })
        .toBeDefined();
      const url = /listening on (http:\/\/\S+)/.exec(simulate.stdout())?.[1] ?? "";
      // At rate 1 every token request gets a token fault: a 429, a 5xx or a reset.
      for (let i = 0; i < 5; i++) {
        const status = await fetch(`${url}/connect/token`, { method: "POST" }).then(
          (response) => response.status,
          () => 0,
        );
        expect([0, 429, 500, 503]).toContain(status);
      }
    } finally {
      simulate.child.kill("SIGTERM");
    }
    expect((await simulate.exited).code).toBe(0);

    const refused = await runCli(["simulate", "--fault-rate", "1.5"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--fault-rate must be a number from 0 to 1; got "1.5".');
  });
});
