// The local Elements API simulator, exercised over real HTTP.
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  X509Certificate,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { JOB_STATUS_LABELS, MANAGEMENT_MODE_LABELS } from "../src/elements/codes.ts";
import { customerSchema } from "../src/elements/payload.ts";
import { CUSTOMERS_PATH, CUSTOMERS_PERMISSION } from "../src/elements/resources.ts";
import {
  generateCustomers,
  writeCustomersFile,
  type SimulatedCustomer,
} from "../src/simulator/data.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "../src/simulator/server.ts";
import { createTestCertificate, type TestCertificate } from "./support/certificate.ts";
import { getToken, requestToken, SECRET_FORM } from "./support/simulator-http.ts";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface TokenBody {
  access_token: string;
  expires_in: number;
  token_type: string;
  scope: string;
  error?: string;
}
interface PageBody {
  data: unknown[];
  metadata: { pageIndex: number; pageSize: number; totalCount: number };
}
interface ErrorBody {
  error: string;
  message?: string;
}

const running: Simulator[] = [];
const tempDirs: string[] = [];

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = await startSimulator(options);
  running.push(simulator);
  return simulator;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(running.splice(0).map((simulator) => simulator.close()));
});

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "elements-sync-sim-"));
  tempDirs.push(dir);
  return dir;
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

interface PageRequest {
  token?: string | undefined;
  pageIndex?: number | string;
  pageSize?: number | string;
  body?: string;
}

function requestPage(simulator: Simulator, request: PageRequest = {}): Promise<Response> {
  const query = new URLSearchParams();
  if (request.pageIndex !== undefined) query.set("pageIndex", String(request.pageIndex));
  if (request.pageSize !== undefined) query.set("pageSize", String(request.pageSize));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  const search = query.size > 0 ? `?${query.toString()}` : "";
  return fetch(`${simulator.url}/${CUSTOMERS_PATH}${search}`, {
    method: "POST",
    headers,
    body: request.body ?? "{}",
  });
}

const ids = (page: PageBody) => page.data.map((record) => (record as { id: string }).id);

async function getPage(simulator: Simulator, request: PageRequest): Promise<PageBody> {
  const response = await requestPage(simulator, request);
  expect(response.status).toBe(200);
  return json<PageBody>(response);
}

describe("token endpoint with a client secret", () => {
  it("issues a bearer token for the right secret and scope", async () => {
    const simulator = await start({ tokenLifetimeSeconds: 1800 });
    const response = await requestToken(simulator, SECRET_FORM);
    expect(response.status).toBe(200);
    const body = await json<TokenBody>(response);
    expect(body).toEqual({
      access_token: expect.any(String) as unknown,
      expires_in: 1800,
      token_type: "Bearer",
      scope: CUSTOMERS_PERMISSION,
    });
    expect(body.access_token.length).toBeGreaterThanOrEqual(32);
    expect(await getToken(simulator)).not.toBe(body.access_token);
  });

  it("honours a configured client id and secret", async () => {
    const simulator = await start({ clientId: "app-1", clientSecret: "s3cret" });
    const good = { ...SECRET_FORM, client_id: "app-1", client_secret: "s3cret" };
    expect((await requestToken(simulator, good)).status).toBe(200);
    expect((await requestToken(simulator, SECRET_FORM)).status).toBe(401);
  });

  it("refuses a wrong secret or client id with 401 invalid_client", async () => {
    const simulator = await start();
    for (const form of [
      { ...SECRET_FORM, client_secret: "wrong" },
      { ...SECRET_FORM, client_id: "someone-else" },
      { grant_type: "client_credentials", client_id: "demo-client", scope: CUSTOMERS_PERMISSION },
    ]) {
      const response = await requestToken(simulator, form);
      expect(response.status).toBe(401);
      expect(await json<ErrorBody>(response)).toEqual({ error: "invalid_client" });
    }
  });

  it("refuses a wrong scope with 400 invalid_scope and a wrong grant type with 400", async () => {
    const simulator = await start();
    const wrongScope = await requestToken(simulator, {
      ...SECRET_FORM,
      scope: "elements.everything",
    });
    expect(wrongScope.status).toBe(400);
    expect(await json<ErrorBody>(wrongScope)).toEqual({ error: "invalid_scope" });

    const wrongGrant = await requestToken(simulator, { ...SECRET_FORM, grant_type: "password" });
    expect(wrongGrant.status).toBe(400);
    expect(await json<ErrorBody>(wrongGrant)).toEqual({ error: "unsupported_grant_type" });
  });

  it("requires a form-encoded body", async () => {
    const simulator = await start();
    const response = await fetch(`${simulator.url}/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(SECRET_FORM),
    });
    expect(response.status).toBe(400);
  });
});

describe("token endpoint with a certificate-signed client assertion", () => {
  let certificate: TestCertificate;
  let thumbprint: string;

  beforeAll(() => {
    certificate = createTestCertificate();
    tempDirs.push(certificate.dir);
    const der = new X509Certificate(certificate.certificatePem).raw;
    thumbprint = createHash("sha1").update(der).digest("base64url");
  });

  function signJwt(privateKeyPem: string, header: object, claims: object): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const input = `${encode(header)}.${encode(claims)}`;
    return `${input}.${sign("RSA-SHA256", Buffer.from(input), privateKeyPem).toString("base64url")}`;
  }

  function assertion(
    simulator: Simulator,
    overrides: { header?: object; claims?: object; key?: string } = {},
  ): string {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      overrides.key ?? certificate.privateKeyPem,
      { alg: "RS256", typ: "JWT", x5t: thumbprint, ...overrides.header },
      {
        iss: "demo-client",
        sub: "demo-client",
        aud: `${simulator.url}/connect/token`,
        iat: now,
        nbf: now,
        exp: now + 300,
        jti: randomUUID(),
        ...overrides.claims,
      },
    );
  }

  function assertionForm(jwt: string): Record<string, string> {
    return {
      grant_type: "client_credentials",
      client_id: "demo-client",
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: jwt,
      scope: CUSTOMERS_PERMISSION,
    };
  }

  it("issues a token that the customers endpoint accepts", async () => {
    const simulator = await start({ certificatePem: certificate.certificatePem, customers: 3 });
    const response = await requestToken(simulator, assertionForm(assertion(simulator)));
    expect(response.status).toBe(200);
    const token = await json<TokenBody>(response);
    expect(token.token_type).toBe("Bearer");
    const page = await getPage(simulator, { token: token.access_token });
    expect(page.metadata.totalCount).toBe(3);
  });

  it("writes the certificate and key where a client can load them", () => {
    const parsed = new X509Certificate(certificate.certificatePem);
    expect(parsed.subject).toBe("CN=test");
    expect(parsed.checkPrivateKey(createPrivateKey(certificate.privateKeyPem))).toBe(true);
    const combined = readFileSync(certificate.combinedPemPath, "utf8");
    expect(combined).toBe(certificate.privateKeyPem + certificate.certificatePem);
    expect(combined.indexOf("PRIVATE KEY")).toBeLessThan(combined.indexOf("BEGIN CERTIFICATE"));
  });

  it("refuses a signature made with another key", async () => {
    const simulator = await start({ certificatePem: certificate.certificatePem });
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    const response = await requestToken(
      simulator,
      assertionForm(assertion(simulator, { key: otherKey })),
    );
    expect(response.status).toBe(401);
    expect(await json<ErrorBody>(response)).toEqual({ error: "invalid_client" });
  });

  it("refuses a tampered payload", async () => {
    const simulator = await start({ certificatePem: certificate.certificatePem });
    const [header, , signature] = assertion(simulator).split(".");
    const forged = Buffer.from(JSON.stringify({ iss: "demo-client", sub: "demo-client" })).toString(
      "base64url",
    );
    const response = await requestToken(
      simulator,
      assertionForm(`${header ?? ""}.${forged}.${signature ?? ""}`),
    );
    expect(response.status).toBe(401);
  });

  it.each([
    ["wrong x5t", { header: { x5t: "AAAA" } }],
    ["alg none", { header: { alg: "none" } }],
    ["wrong iss", { claims: { iss: "other" } }],
    ["wrong sub", { claims: { sub: "other" } }],
    ["wrong aud", { claims: { aud: "https://identity.avepointonlineservices.com/connect/token" } }],
    ["expired", { claims: { exp: Math.floor(Date.now() / 1000) - 5 } }],
    ["exp an hour ahead", { claims: { exp: Math.floor(Date.now() / 1000) + 3600 } }],
    ["no jti", { claims: { jti: undefined } }],
  ])("refuses an assertion with %s", async (_label, overrides) => {
    const simulator = await start({ certificatePem: certificate.certificatePem });
    const response = await requestToken(simulator, assertionForm(assertion(simulator, overrides)));
    expect(response.status).toBe(401);
  });

  it("refuses a replayed assertion, a wrong assertion type and a client without a certificate", async () => {
    const simulator = await start({ certificatePem: certificate.certificatePem });
    const jwt = assertion(simulator);
    expect((await requestToken(simulator, assertionForm(jwt))).status).toBe(200);
    expect((await requestToken(simulator, assertionForm(jwt))).status).toBe(401);

    const wrongType = { ...assertionForm(assertion(simulator)), client_assertion_type: "saml" };
    expect((await requestToken(simulator, wrongType)).status).toBe(401);

    const noCertificate = await start();
    expect(
      (await requestToken(noCertificate, assertionForm(assertion(noCertificate)))).status,
    ).toBe(401);
  });
});

describe("customers endpoint: paging and validation", () => {
  it("pages through every customer exactly once, echoing pageIndex and pageSize", async () => {
    const simulator = await start();
    const token = await getToken(simulator);
    const ids: string[] = [];
    for (const pageIndex of [1, 2, 3]) {
      const page = await getPage(simulator, { token, pageIndex, pageSize: 100 });
      expect(page.metadata).toEqual({ pageIndex, pageSize: 100, totalCount: 250 });
      expect(page.data).toHaveLength(pageIndex === 3 ? 50 : 100);
      ids.push(...(page.data as SimulatedCustomer[]).map((customer) => customer.id));
    }
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect(ids).toEqual(generateCustomers(250, 1).map((customer) => customer.id));

    const beyond = await getPage(simulator, { token, pageIndex: 4, pageSize: 100 });
    expect(beyond).toEqual({
      data: [],
      metadata: { pageIndex: 4, pageSize: 100, totalCount: 250 },
    });
  });

  it("defaults to pageIndex 1 and pageSize 50 (today's documentation), 100 as the seed", async () => {
    const today = await start({ customers: 120 });
    const page = await getPage(today, { token: await getToken(today), body: "" });
    expect(page.metadata).toEqual({ pageIndex: 1, pageSize: 50, totalCount: 120 });
    expect(page.data).toHaveLength(50);
    expect(today.requests.at(-1)).toMatchObject({ search: "", pageIndex: 1, pageSize: 50 });

    const seed = await start({ customers: 120, apiVersion: "seed" });
    const seedPage = await getPage(seed, { token: await getToken(seed), body: "" });
    expect(seedPage.metadata).toEqual({ pageIndex: 1, pageSize: 100, totalCount: 120 });
    expect(seedPage.data).toHaveLength(100);
  });

  it("refuses an API version it does not speak", async () => {
    await expect(
      start({ apiVersion: "2024-01" as unknown as SimulatorOptions["apiVersion"] }),
    ).rejects.toThrow("apiVersion must be one of 2025-10, seed, got 2024-01");
  });

  it("refuses pageSize above the maximum and malformed paging or body with 400", async () => {
    const simulator = await start();
    const token = await getToken(simulator);
    const cases: PageRequest[] = [
      { pageSize: 101 },
      { pageSize: 0 },
      { pageIndex: 0 },
      { pageIndex: -1 },
      { pageIndex: "two" },
      { pageSize: "1.5" },
      { body: "{not json" },
      { body: "[1]" },
      { body: '{"customerIds": "one-id"}' },
      { body: '{"customerIds": [42]}' },
    ];
    for (const request of cases) {
      const response = await requestPage(simulator, { token, ...request });
      expect(response.status, JSON.stringify(request)).toBe(400);
      expect((await json<ErrorBody>(response)).message).toEqual(expect.any(String));
    }
    // The seed's field is not today's: ignored, however malformed.
    expect((await requestPage(simulator, { token, body: '{"customerId": 42}' })).status).toBe(200);

    const seed = await start({ apiVersion: "seed" });
    const seedToken = await getToken(seed);
    const refused = await requestPage(seed, { token: seedToken, body: '{"customerId": 42}' });
    expect(refused.status).toBe(400);
    expect((await json<ErrorBody>(refused)).message).toBe("customerId must be a string");
    const ignored = await requestPage(seed, { token: seedToken, body: '{"customerIds": [42]}' });
    expect(ignored.status).toBe(200);
  });

  it("allows larger pages when maxPageSize says so", async () => {
    const simulator = await start({ maxPageSize: 500 });
    const token = await getToken(simulator);
    expect((await getPage(simulator, { token, pageSize: 250 })).data).toHaveLength(250);
    expect((await requestPage(simulator, { token, pageSize: 501 })).status).toBe(400);
  });

  it("filters by customerIds, pages what matches, and ignores customerId", async () => {
    const simulator = await start({ customers: 20 });
    const token = await getToken(simulator);
    const all = generateCustomers(20, 1);
    const wanted = [all[13], all[2], all[7]].map((customer) => customer?.id ?? "");
    const first = await getPage(simulator, {
      token,
      pageSize: 2,
      body: JSON.stringify({ customerIds: [...wanted, randomUUID()] }),
    });
    // In the data's order, two a page; totalCount counts the matches.
    expect(ids(first)).toEqual([all[2]?.id, all[7]?.id]);
    expect(first.metadata).toEqual({ pageIndex: 1, pageSize: 2, totalCount: 3 });
    const second = await getPage(simulator, {
      token,
      pageIndex: 2,
      pageSize: 2,
      body: JSON.stringify({ customerIds: wanted }),
    });
    expect(ids(second)).toEqual([all[13]?.id]);
    expect(simulator.requests.at(-1)).toMatchObject({ customerIds: wanted });

    const seedForm = await getPage(simulator, {
      token,
      body: JSON.stringify({ customerId: wanted[0] }),
    });
    expect(seedForm.metadata.totalCount).toBe(20);
    expect(simulator.requests.at(-1)).toMatchObject({ customerId: wanted[0] });
  });

  it("filters by customerId as the seed, and ignores customerIds", async () => {
    const simulator = await start({ customers: 20, apiVersion: "seed" });
    const token = await getToken(simulator);
    const wanted = generateCustomers(20, 1)[13];
    const found = await getPage(simulator, {
      token,
      body: JSON.stringify({ customerId: wanted?.id }),
    });
    expect(found.data).toEqual([wanted]);
    expect(found.metadata.totalCount).toBe(1);

    const missing = await getPage(simulator, {
      token,
      body: JSON.stringify({ customerId: randomUUID() }),
    });
    expect(missing.data).toEqual([]);
    expect(missing.metadata.totalCount).toBe(0);
    expect(simulator.requests.at(-2)?.customerId).toBe(wanted?.id);

    const todayForm = await getPage(simulator, {
      token,
      body: JSON.stringify({ customerIds: [wanted?.id] }),
    });
    expect(todayForm.metadata.totalCount).toBe(20);
  });

  it("applies neither form with ignoreIdFilter (a server of some other version)", async () => {
    for (const apiVersion of ["2025-10", "seed"] as const) {
      const simulator = await start({ customers: 20, apiVersion, ignoreIdFilter: true });
      const token = await getToken(simulator);
      const [wanted] = generateCustomers(20, 1).slice(13);
      for (const body of [{ customerIds: [wanted?.id] }, { customerId: wanted?.id }]) {
        const page = await getPage(simulator, { token, body: JSON.stringify(body) });
        expect(page.metadata.totalCount, apiVersion).toBe(20);
      }
    }
  });

  it("answers 404 for other paths and methods", async () => {
    const simulator = await start();
    const unknown = await fetch(`${simulator.url}/partner/external/v3/general/customers`, {
      method: "POST",
    });
    expect(unknown.status).toBe(404);
    expect((await json<ErrorBody>(unknown)).error).toBe("not_found");
    expect((await fetch(`${simulator.url}/${CUSTOMERS_PATH}`)).status).toBe(404);
    expect((await fetch(`${simulator.url}/connect/token`)).status).toBe(404);
  });
});

describe("customers endpoint: authorization", () => {
  it("answers 401 without a token or with an unknown one", async () => {
    const simulator = await start();
    const missing = await requestPage(simulator);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await requestPage(simulator, { token: "made-up" })).status).toBe(401);
  });

  it("expireTokens() invalidates every token issued so far, not later ones", async () => {
    const simulator = await start();
    const first = await getToken(simulator);
    const second = await getToken(simulator);
    expect((await requestPage(simulator, { token: first })).status).toBe(200);
    simulator.expireTokens();
    expect((await requestPage(simulator, { token: first })).status).toBe(401);
    expect((await requestPage(simulator, { token: second })).status).toBe(401);
    const fresh = await getToken(simulator);
    expect((await requestPage(simulator, { token: fresh })).status).toBe(200);
  });

  it("rejects a token once its lifetime has passed", async () => {
    const simulator = await start({ tokenLifetimeSeconds: 60 });
    const token = await getToken(simulator);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 59_000);
    expect((await requestPage(simulator, { token })).status).toBe(200);
    vi.setSystemTime(Date.now() + 2_000);
    expect((await requestPage(simulator, { token })).status).toBe(401);
  });
});

describe("generated data", () => {
  it("is deterministic for a seed and count, and differs between seeds", async () => {
    expect(generateCustomers(50, 7)).toEqual(generateCustomers(50, 7));
    expect(generateCustomers(50, 7).slice(0, 20)).toEqual(generateCustomers(20, 7));
    const otherIds = new Set(generateCustomers(50, 8).map((customer) => customer.id));
    expect(generateCustomers(50, 7).some((customer) => otherIds.has(customer.id))).toBe(false);

    const a = await start({ customers: 30, seed: 42 });
    const b = await start({ customers: 30, seed: 42 });
    const c = await start({ customers: 30, seed: 43 });
    const serve = async (simulator: Simulator) =>
      (await getPage(simulator, { token: await getToken(simulator) })).data;
    expect(await serve(a)).toEqual(await serve(b));
    expect(await serve(a)).not.toEqual(await serve(c));
    expect(await serve(a)).toEqual(generateCustomers(30, 42));
  });

  it("looks like the API's records, with plausible distributions", () => {
    const customers = generateCustomers(1000, 1);
    const ids = customers.flatMap((customer) => [
      customer.id,
      ...customer.tenants.map((t) => t.id),
    ]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const customer of customers) {
      expect(customerSchema.safeParse(customer).success).toBe(true);
      expect(Object.keys(customer)).toEqual([
        "id",
        "organization",
        "ownerEmail",
        "jobStatus",
        "countryOrRegion",
        "managementMode",
        "tenants",
      ]);
      expect(customer.id).toMatch(UUID);
      expect(customer.ownerEmail).toMatch(/^[a-z]+@[a-z0-9.-]+$/);
      expect(JOB_STATUS_LABELS.has(customer.jobStatus)).toBe(true);
      expect(MANAGEMENT_MODE_LABELS.has(customer.managementMode)).toBe(true);
      expect(customer.tenants.length).toBeLessThanOrEqual(3);
      for (const tenant of customer.tenants) expect(tenant.id).toMatch(UUID);
    }
    const count = (predicate: (customer: SimulatedCustomer) => boolean) =>
      customers.filter(predicate).length;
    expect(count((customer) => customer.jobStatus === 1)).toBeGreaterThan(450);
    for (const code of JOB_STATUS_LABELS.keys()) {
      expect(count((customer) => customer.jobStatus === code)).toBeGreaterThan(0);
    }
    for (const code of MANAGEMENT_MODE_LABELS.keys()) {
      expect(count((customer) => customer.managementMode === code)).toBeGreaterThan(0);
    }
    const tenants = customers.reduce((sum, customer) => sum + customer.tenants.length, 0);
    expect(tenants / customers.length).toBeGreaterThan(1.6);
    expect(tenants / customers.length).toBeLessThan(2.4);
    expect(count((customer) => customer.tenants.length === 0)).toBeGreaterThan(0);
  });
});

describe("data file", () => {
  it("is re-read on every request and served verbatim, malformed records included", async () => {
    const dataFile = join(tempDir(), "customers.json");
    const malformed = [
      { organization: "No Id Ltd", jobStatus: 1, managementMode: 0, tenants: [] },
      { id: "string-status", jobStatus: "1", managementMode: 9, tenants: null, extra: true },
    ];
    const first = [...generateCustomers(3, 5), ...malformed];
    await writeCustomersFile(dataFile, first);
    const simulator = await start({ dataFile });
    const token = await getToken(simulator);
    expect(await getPage(simulator, { token })).toEqual({
      data: first,
      metadata: { pageIndex: 1, pageSize: 50, totalCount: 5 },
    });

    const second = generateCustomers(3, 5).slice(1);
    await writeCustomersFile(dataFile, second);
    const page = await getPage(simulator, { token });
    expect(page.data).toEqual(second);
    expect(page.metadata.totalCount).toBe(2);

    const byId = await getPage(simulator, {
      token,
      body: JSON.stringify({ customerIds: ["string-status"] }),
    });
    expect(byId.metadata.totalCount).toBe(0);
  });

  it("answers 500 with a message when the file cannot be read or parsed", async () => {
    const dir = tempDir();
    const dataFile = join(dir, "customers.json");
    const simulator = await start({ dataFile });
    const token = await getToken(simulator);

    const absent = await requestPage(simulator, { token });
    expect(absent.status).toBe(500);
    expect((await json<ErrorBody>(absent)).message).toContain(dataFile);

    await writeFile(dataFile, "{ not json");
    const broken = await requestPage(simulator, { token });
    expect(broken.status).toBe(500);
    expect((await json<ErrorBody>(broken)).message).toContain("cannot read data file");

    await writeFile(dataFile, JSON.stringify([{ id: "x" }]));
    expect((await requestPage(simulator, { token })).status).toBe(500);

    await writeCustomersFile(dataFile, [{ id: "x" }]);
    expect((await getPage(simulator, { token })).data).toEqual([{ id: "x" }]);
  });
});

describe("faults, latency and the request log", () => {
  it("serves a queued 429 with Retry-After the given number of times", async () => {
    const simulator = await start({ customers: 5 });
    const token = await getToken(simulator);
    simulator.injectFault({ status: 429, retryAfter: "2", times: 2 });
    for (let i = 0; i < 2; i++) {
      const response = await requestPage(simulator, { token });
      expect(response.status).toBe(429);
      expect(response.headers.get("retry-after")).toBe("2");
      expect((await json<ErrorBody>(response)).error).toBe("simulated_fault");
    }
    const after = await requestPage(simulator, { token });
    expect(after.status).toBe(200);
    expect(after.headers.get("retry-after")).toBeNull();
  });

  it("limits a fault to one page and serves a given body verbatim", async () => {
    const simulator = await start();
    const token = await getToken(simulator);
    simulator.injectFault({ status: 503, onPage: 2, body: "<html>maintenance</html>" });
    expect((await requestPage(simulator, { token, pageIndex: 1 })).status).toBe(200);
    expect((await requestPage(simulator, { token, pageIndex: 3 })).status).toBe(200);
    const faulted = await requestPage(simulator, { token, pageIndex: 2 });
    expect(faulted.status).toBe(503);
    expect(await faulted.text()).toBe("<html>maintenance</html>");
    expect((await requestPage(simulator, { token, pageIndex: 2 })).status).toBe(200);
  });

  it("applies token faults to the token endpoint only", async () => {
    const simulator = await start();
    simulator.injectFault({ endpoint: "token", status: 500 });
    const faulted = await requestToken(simulator, SECRET_FORM);
    expect(faulted.status).toBe(500);
    expect(simulator.requests.at(-1)).toMatchObject({ path: "/connect/token", status: 500 });
    const retried = await getToken(simulator);
    expect((await requestPage(simulator, { token: retried })).status).toBe(200);
  });

  it("resets the connection, or answers only after a delay", async () => {
    const simulator = await start({ customers: 5 });
    const token = await getToken(simulator);
    simulator.injectFault({ reset: true });
    await expect(requestPage(simulator, { token })).rejects.toThrow(TypeError);
    expect(simulator.requests.at(-1)).toMatchObject({ status: 0 });

    simulator.injectFault({ delayMs: 300 });
    const started = Date.now();
    const delayed = await requestPage(simulator, { token });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(delayed.status).toBe(200);
    expect((await json<PageBody>(delayed)).data).toHaveLength(5);
  });

  it("refuses impossible faults", async () => {
    const simulator = await start();
    expect(() => {
      simulator.injectFault({ status: 42 });
    }).toThrow(RangeError);
    expect(() => {
      simulator.injectFault({ status: 500, times: 0 });
    }).toThrow(RangeError);
    expect(() => {
      simulator.injectFault({ onPage: 1 });
    }).toThrow(/needs a status, reset, delayMs, corrupt or expireTokens/);
    expect(() => {
      simulator.injectFault({ status: 500, endpoint: "token", onPage: 1 });
    }).toThrow(RangeError);
  });

  it("logs every request in order with its paging and status", async () => {
    const simulator = await start({ customers: 150 });
    const token = await getToken(simulator);
    simulator.injectFault({ status: 429, retryAfter: "1", onPage: 2 });
    await requestPage(simulator, { token, pageIndex: 1, pageSize: 100 });
    await requestPage(simulator, { token, pageIndex: 2, pageSize: 100 });
    await requestPage(simulator, { token, pageIndex: 2, pageSize: 100 });
    await requestPage(simulator, { pageSize: 101 });
    await fetch(`${simulator.url}/nowhere`);
    const customersPath = `/${CUSTOMERS_PATH}`;
    expect(simulator.requests.map((entry) => ({ ...entry, at: typeof entry.at }))).toEqual([
      { path: "/connect/token", search: "", status: 200, at: "number" },
      {
        path: customersPath,
        search: "?pageIndex=1&pageSize=100",
        pageIndex: 1,
        pageSize: 100,
        status: 200,
        at: "number",
      },
      {
        path: customersPath,
        search: "?pageIndex=2&pageSize=100",
        pageIndex: 2,
        pageSize: 100,
        status: 429,
        fault: "status 429",
        at: "number",
      },
      {
        path: customersPath,
        search: "?pageIndex=2&pageSize=100",
        pageIndex: 2,
        pageSize: 100,
        status: 200,
        at: "number",
      },
      {
        path: customersPath,
        search: "?pageSize=101",
        pageIndex: 1,
        pageSize: 101,
        status: 401,
        at: "number",
      },
      { path: "/nowhere", search: "", status: 404, at: "number" },
    ]);
    const times = simulator.requests.map((entry) => entry.at);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(Math.abs((times[0] ?? 0) - Date.now())).toBeLessThan(10_000);
  });

  it("passes log lines without secrets to the log option", async () => {
    const lines: string[] = [];
    const simulator = await start({
      clientSecret: "very-secret-value",
      log: (line) => lines.push(line),
    });
    await requestToken(simulator, { ...SECRET_FORM, client_secret: "very-secret-value" });
    await requestToken(simulator, { ...SECRET_FORM, client_secret: "wrong-secret-value" });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("401");
    expect(lines.join("\n")).not.toMatch(/secret-value/);
  });

  it("delays customers responses by latencyMs", async () => {
    const simulator = await start({ latencyMs: 200, customers: 1 });
    const token = await getToken(simulator);
    const startedAt = performance.now();
    expect((await requestPage(simulator, { token })).status).toBe(200);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(190);
  });

  it("counts its own work in latencyMs: an answer whose work outlasts it is not delayed again", async () => {
    const latencyMs = 1000;
    const simulator = await start({ latencyMs, customers: 1 });
    const token = await getToken(simulator);
    // The work (a hook standing for slow paging) ends only once the latency has passed.
    simulator.onCustomersRequest(async () => {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      return undefined;
    });
    const startedAt = performance.now();
    expect((await requestPage(simulator, { token })).status).toBe(200);
    const took = performance.now() - startedAt;
    expect(took).toBeGreaterThanOrEqual(latencyMs - 10);
    // Added after the work, the latency would make it at least twice as long.
    expect(took).toBeLessThan(2 * latencyMs);
  });

  it("closes promptly with a delayed request and keep-alive connections open", async () => {
    const simulator = await startSimulator({ latencyMs: 30_000 });
    const token = await getToken(simulator);
    const pending = requestPage(simulator, { token }).then(
      (response) => response.status,
      () => "failed",
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const startedAt = performance.now();
    await simulator.close();
    expect(performance.now() - startedAt).toBeLessThan(1000);
    expect(await pending).toBe("failed");
    expect(simulator.requests).toHaveLength(1);
    await expect(fetch(`${simulator.url}/connect/token`, { method: "POST" })).rejects.toThrow();
  });
});
