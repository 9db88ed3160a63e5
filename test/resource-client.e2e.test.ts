// The client's services and backup jobs endpoints against the simulator over real HTTP: a
// token per scope, a missing permission told apart from every other failure (403 from its
// endpoint, invalid_scope from the identity service) without stopping the other endpoints,
// one rate-limit gate for all, requests counted per resource, and a jobs 404.
import { afterEach, describe, expect, it } from "vitest";
import type { ElementsClient } from "../src/elements/client.ts";
import { ElementsApiError, PermissionMissingError } from "../src/elements/errors.ts";
import { createElementsClientFromConfig } from "../src/elements/from-config.ts";
import {
  CUSTOMERS_ENDPOINT,
  CUSTOMERS_PERMISSION,
  JOBS_ENDPOINT,
  JOBS_PERMISSION,
  LICENSE_PERMISSION,
  SERVICES_ENDPOINT,
  type Endpoint,
} from "../src/elements/resources.ts";
import { generateCustomers } from "../src/simulator/data.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "../src/simulator/server.ts";
import { captureLogs } from "./support/harness.ts";

const simulators: Simulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

/** A simulator of a few generated customers, a client of it, and the client's log lines. */
async function setUp(options: SimulatorOptions = {}) {
  const simulator = await startSimulator({ customers: 5, seed: 3, ...options });
  simulators.push(simulator);
  const { logger, lines } = captureLogs();
  const client = createElementsClientFromConfig(
    {
      apiUrl: simulator.url,
      identityUrl: simulator.url,
      clientId: "demo-client",
      credentials: { kind: "secret", clientSecret: "demo-secret" },
      scope: CUSTOMERS_PERMISSION,
      pageSize: 10,
      timeoutMs: 5_000,
      maxAttempts: 4,
      maxRetryTimeMs: 20_000,
      concurrency: 2,
      maxResponseBytes: 1024 * 1024,
    },
    logger,
    { retryDelayMs: 20 },
  );
  const [first] = generateCustomers(5, 3) as { id: string }[];
  if (first === undefined) throw new Error("no customer generated");
  return { simulator, client, lines, customerId: first.id };
}

function page(client: ElementsClient, endpoint: Endpoint, customerId?: string) {
  return client.fetchResourcePage(endpoint, { pageIndex: 1, pageSize: 10, customerId });
}

function tokenRequests(simulator: Simulator) {
  return simulator.requests.filter((request) => request.path === "/connect/token");
}

describe("one token per scope", () => {
  it("asks for each endpoint's token with its own permission, once, and reuses it", async () => {
    const { simulator, client, lines, customerId } = await setUp();
    const customers = await client.fetchPage({ pageIndex: 1, pageSize: 10 });
    const services = await page(client, SERVICES_ENDPOINT);
    const jobs = await page(client, JOBS_ENDPOINT, customerId);
    expect(customers.metadata.totalCount).toBe(5);
    expect(services.data).toHaveLength(5);
    expect(jobs.data.length).toBe(jobs.metadata.totalCount);
    // Again: every token is still good, each kept apart.
    await client.fetchPage({ pageIndex: 1, pageSize: 10 });
    await page(client, SERVICES_ENDPOINT);
    await page(client, JOBS_ENDPOINT, customerId);
    expect(tokenRequests(simulator)).toHaveLength(3);
    expect(new Set(simulator.issuedTokens()).size).toBe(3);
    expect(
      lines.filter((line) => line.msg === "fetched an access token").map((line) => line.scope),
    ).toEqual([CUSTOMERS_PERMISSION, LICENSE_PERMISSION, JOBS_PERMISSION]);
  });

  it("replaces only the refused token when the API refuses one", async () => {
    const { simulator, client, customerId } = await setUp();
    await page(client, SERVICES_ENDPOINT);
    await page(client, JOBS_ENDPOINT, customerId);
    simulator.injectFault({ endpoint: "jobs", status: 401 });
    await page(client, JOBS_ENDPOINT, customerId);
    await page(client, SERVICES_ENDPOINT);
    expect(tokenRequests(simulator)).toHaveLength(3);
  });
});

describe("a missing permission", () => {
  it("is a PermissionMissingError on a 403 from services or jobs, not retried; customers go on", async () => {
    const { simulator, client, customerId } = await setUp();
    await page(client, SERVICES_ENDPOINT);
    await page(client, JOBS_ENDPOINT, customerId);
    const before = client.requestsMade();
    // Revoked while the tokens live: their endpoints answer 403.
    simulator.denyPermissions([LICENSE_PERMISSION, JOBS_PERMISSION]);
    const services = await page(client, SERVICES_ENDPOINT).catch((error: unknown) => error);
    expect(services).toBeInstanceOf(PermissionMissingError);
    expect(services).toMatchObject({
      kind: "fatal",
      status: 403,
      service: "api",
      permission: LICENSE_PERMISSION,
      resource: "services",
      message: expect.stringMatching(
        /^The app registration lacks the permission elements\.license\.read\.all \(403\)\. Grant it under Elements > API app registration \(.*elements\.license\.read\.all.*\)\.$/,
      ) as unknown,
    });
    await expect(page(client, JOBS_ENDPOINT, customerId)).rejects.toMatchObject({
      status: 403,
      permission: JOBS_PERMISSION,
      resource: "jobs",
    });
    expect((await client.fetchPage({ pageIndex: 1, pageSize: 10 })).data).toHaveLength(5);
    expect(client.requestsMade()).toEqual({
      customers: before.customers + 1,
      services: before.services + 1,
      jobs: before.jobs + 1,
    });
  });

  it("names the customers permission when the customers endpoint answers 403", async () => {
    const { simulator, client } = await setUp();
    simulator.injectFault({ status: 403 });
    await expect(client.fetchPage({ pageIndex: 1, pageSize: 10 })).rejects.toMatchObject({
      name: "PermissionMissingError",
      permission: CUSTOMERS_PERMISSION,
      resource: "customers",
      message: expect.stringMatching(
        /^The app registration lacks the permission elements\.customers\.read\.all \(403\)\./,
      ) as unknown,
    });
  });

  it("is a PermissionMissingError when the identity service refuses the scope; the others go on", async () => {
    const { simulator, client, customerId } = await setUp({ deny: [JOBS_PERMISSION] });
    const refused = await page(client, JOBS_ENDPOINT, customerId).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PermissionMissingError);
    expect(refused).toMatchObject({
      kind: "fatal",
      status: 400,
      service: "identity",
      permission: JOBS_PERMISSION,
      resource: "jobs",
      message:
        "The app registration lacks the permission elements.jobs.read.all: the identity service refused a token for the scope elements.jobs.read.all (400 invalid_scope). Grant it under Elements > API app registration.",
    });
    // Not retried, and no request reached the jobs endpoint.
    expect(tokenRequests(simulator).map((request) => request.status)).toEqual([400]);
    expect(client.requestsMade().jobs).toBe(0);
    expect((await client.fetchPage({ pageIndex: 1, pageSize: 10 })).data).toHaveLength(5);
    expect((await page(client, SERVICES_ENDPOINT)).data).toHaveLength(5);
  });
});

describe("one gate for every endpoint", () => {
  it("holds customers requests back while a services 429's Retry-After runs", async () => {
    const { simulator, client, lines } = await setUp();
    await client.fetchPage({ pageIndex: 1, pageSize: 10 });
    simulator.injectFault({ endpoint: "services", status: 429, retryAfter: "1" });
    const services = page(client, SERVICES_ENDPOINT);
    // The client has taken the 429 in (and paused the gate) once it says it will retry.
    await expect
      .poll(() => lines.some((line) => line.msg === "services request failed; retrying"))
      .toBe(true);
    const customers = await client.fetchPage({ pageIndex: 1, pageSize: 10 });
    expect(customers.data).toHaveLength(5);
    expect((await services).data).toHaveLength(5);
    const limited = simulator.requests.find((request) => request.status === 429);
    const customersPath = `/${CUSTOMERS_ENDPOINT.path()}`;
    const after = simulator.requests.filter(
      (request) => request.path === customersPath && request.at > (limited?.at ?? Infinity),
    );
    expect(after).toHaveLength(1);
    expect((after[0]?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });
});

describe("requests made", () => {
  it("counts every attempt per resource, retries included, token requests not", async () => {
    const { simulator, client, lines, customerId } = await setUp();
    expect(client.requestsMade()).toEqual({ customers: 0, services: 0, jobs: 0 });
    simulator.injectFault({ endpoint: "jobs", customerId, status: 503, times: 2 });
    await page(client, JOBS_ENDPOINT, customerId);
    await page(client, SERVICES_ENDPOINT);
    await client.fetchPage({ pageIndex: 1, pageSize: 10 });
    expect(client.requestsMade()).toEqual({ customers: 1, services: 1, jobs: 3 });
    expect(tokenRequests(simulator)).toHaveLength(3);
    const retries = lines.filter((line) => line.msg === "jobs request failed; retrying");
    expect(retries.map((line) => [line.customerId, line.status])).toEqual([
      [customerId, 503],
      [customerId, 503],
    ]);
    // A snapshot: what a run read at its start does not move.
    const start = client.requestsMade();
    await page(client, SERVICES_ENDPOINT);
    expect(start.services).toBe(1);
    expect(client.requestsMade().services).toBe(2);
  });
});

describe("the caller's request slots", () => {
  it("takes one per attempt and gives it back once, when the body has arrived, before the page is parsed", async () => {
    const { simulator, client, lines, customerId } = await setUp();
    simulator.injectFault({ endpoint: "jobs", customerId, status: 503, times: 1 });
    const events: string[] = [];
    const slots = {
      acquire: () => {
        events.push("acquire");
        return Promise.resolve(() => {
          // Where the client's log stood: parsing logs the envelope's new fields after it.
          events.push(`release after ${lines.length} log lines`);
        });
      },
    };
    const request = { pageIndex: 1, pageSize: 10, customerId, slots };
    await client.fetchResourcePage(JOBS_ENDPOINT, request);
    // The 503's attempt gives its slot back as it ends (its warning logged after), the retry's too.
    expect(events.filter((e) => e === "acquire")).toHaveLength(2);
    expect(events.filter((e) => e.startsWith("release"))).toHaveLength(2);

    // An envelope with a field the documentation lacks: parsing the page warns of it, and
    // the slot was back before that.
    events.length = 0;
    const body = JSON.stringify({
      data: [],
      metadata: { pageIndex: 1, pageSize: 10, totalCount: 0 },
      apiVersion: "3.1",
    });
    simulator.injectFault({ endpoint: "customers", status: 200, body, onPage: 1 });
    const before = lines.length;
    await client.fetchPage({ pageIndex: 1, pageSize: 10, slots });
    const warned = lines.findIndex(
      (line, i) =>
        i >= before && String(line.msg).startsWith("fields outside the documented envelope"),
    );
    expect(warned).toBeGreaterThanOrEqual(before);
    expect(events).toEqual(["acquire", `release after ${warned} log lines`]);
  });
});

describe("an unknown customer's jobs", () => {
  it("fail at once with status 404, naming the customer", async () => {
    const { client } = await setUp();
    const error = await page(client, JOBS_ENDPOINT, "no-such-customer").catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ElementsApiError);
    expect(error).not.toBeInstanceOf(PermissionMissingError);
    expect(error).toMatchObject({
      kind: "fatal",
      status: 404,
      message: expect.stringMatching(
        /^The Elements API knows no customer no-such-customer \(404/,
      ) as unknown,
    });
    expect(client.requestsMade().jobs).toBe(1);
  });
});
