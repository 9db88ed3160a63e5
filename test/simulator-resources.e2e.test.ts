// The simulator's subscriptions (services) and backup jobs endpoints over real HTTP: the
// documented envelope and paging, the filters, the permission each needs, data that explains
// a customer's job status, determinism for a seed, and the --data file's own lists.
import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CUSTOMERS_PATH,
  CUSTOMERS_PERMISSION,
  JOBS_PATH,
  JOBS_PERMISSION,
  LICENSE_PERMISSION,
  SERVICES_PATH,
} from "../src/elements/resources.ts";
import { generateCustomers, writeCustomersFile } from "../src/simulator/data.ts";
import { FAILING_JOB_STATUSES, generateJobs } from "../src/simulator/jobs.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "../src/simulator/server.ts";
import { generateServices } from "../src/simulator/services.ts";
import { runCli, spawnCli } from "./support/cli.ts";
import { manualText } from "./support/manual.ts";
import { requestToken, SECRET_FORM } from "./support/simulator-http.ts";

interface Page<T> {
  data: T[];
  metadata: { pageIndex: number; pageSize: number; totalCount: number };
}
interface ServicesItem {
  customerId: string;
  organization: string;
  customer: string;
  products: Record<string, unknown>[];
}
interface Job {
  jobType: number;
  jobModule: number;
  status: number;
  jobId: string;
  [field: string]: unknown;
}
interface Customer {
  id: string;
  jobStatus: number;
}

const PRODUCT_FIELDS = [
  "service",
  "subscriptionModel",
  "purchasedUserSeats",
  "purchasedUnits",
  "microsoftLicenseAssigned",
  "microsoftLicenseAvailable",
  "purchasedCapacity",
  "protectedCapacity",
  "storage",
  "retention",
  "consumedStorage",
  "expirationDate",
  "change",
  "source",
  "paymentType",
  "subscriptionName",
  "package",
  "contractEndDate",
].sort();
const JOB_FIELDS = [
  "jobType",
  "jobModule",
  "status",
  "jobId",
  "name",
  "totalCount",
  "failedCount",
  "successfulCount",
  "skippedCount",
  "warningCount",
  "backupSize",
  "startTime",
  "endTime",
  "jobDuration",
  "lastModifyTime",
].sort();
/** Customer job statuses Failed, Multiple Issues Found, Finished with Exception. */
const FAILING_CUSTOMER_STATUSES = [2, 4, 5];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const DAY_MS = 86_400_000;

const simulators: Simulator[] = [];
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sim-resources-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

async function start(options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = await startSimulator(options);
  simulators.push(simulator);
  return simulator;
}

async function tokenFor(simulator: Simulator, scope: string): Promise<string> {
  const response = await requestToken(simulator, { ...SECRET_FORM, scope });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; scope: string };
  expect(body.scope).toBe(scope);
  return body.access_token;
}

function post(
  simulator: Simulator,
  path: string,
  token: string,
  body: unknown = {},
  query = "",
): Promise<Response> {
  return fetch(`${simulator.url}/${path}${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function jobsPath(customerId: string): string {
  return JOBS_PATH.replace("{customerId}", encodeURIComponent(customerId));
}

async function page<T>(response: Response): Promise<Page<T>> {
  expect(response.status).toBe(200);
  return (await response.json()) as Page<T>;
}

/** Every item of an endpoint, page by page as a client pages. */
async function all<T>(simulator: Simulator, path: string, token: string, body: unknown = {}) {
  const items: T[] = [];
  for (let index = 1; ; index++) {
    const next = await page<T>(
      await post(simulator, path, token, body, `?pageIndex=${index}&pageSize=100`),
    );
    items.push(...next.data);
    if (next.data.length === 0 || items.length >= next.metadata.totalCount) return items;
  }
}

async function customersOf(simulator: Simulator): Promise<Customer[]> {
  return all<Customer>(simulator, CUSTOMERS_PATH, await tokenFor(simulator, CUSTOMERS_PERMISSION));
}

describe("services endpoint", () => {
  it("pages every customer's products in the documented envelope, 50 a page unless asked", async () => {
    const simulator = await start({ customers: 120, seed: 3 });
    const token = await tokenFor(simulator, LICENSE_PERMISSION);
    const first = await page<ServicesItem>(await post(simulator, SERVICES_PATH, token));
    expect(first.metadata).toEqual({ pageIndex: 1, pageSize: 50, totalCount: 120 });
    expect(first.data).toHaveLength(50);
    const third = await page<ServicesItem>(
      await post(simulator, SERVICES_PATH, token, {}, "?pageIndex=3&pageSize=50"),
    );
    expect(third.metadata).toEqual({ pageIndex: 3, pageSize: 50, totalCount: 120 });
    expect(third.data).toHaveLength(20);

    const items = await all<ServicesItem>(simulator, SERVICES_PATH, token);
    const customers = await customersOf(simulator);
    expect(items.map((item) => item.customerId)).toEqual(customers.map((c) => c.id));
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual([
        "customer",
        "customerId",
        "organization",
        "products",
      ]);
      expect(item.products.length).toBeGreaterThan(0);
      const identities = item.products.map(
        (p) => `${String(p.service)}|${String(p.source)}|${String(p.subscriptionName)}`,
      );
      expect(new Set(identities).size).toBe(identities.length);
      for (const product of item.products) {
        expect(Object.keys(product).sort()).toEqual(PRODUCT_FIELDS);
        for (const value of Object.values(product)) expect(typeof value).toBe("string");
        expect(product.expirationDate).toMatch(ISO);
        if (product.contractEndDate !== "N/A") expect(product.contractEndDate).toMatch(ISO);
      }
    }
    const products = items.flatMap((item) => item.products);
    expect(products.some((p) => p.purchasedUserSeats === "N/A")).toBe(true);
    expect(products.some((p) => /^\d+$/.test(String(p.purchasedUserSeats)))).toBe(true);
    const daysLeft = products.map(
      (p) => (Date.parse(String(p.expirationDate)) - Date.now()) / DAY_MS,
    );
    expect(daysLeft.filter((days) => days > 0 && days <= 30).length).toBeGreaterThan(0);
    expect(daysLeft.filter((days) => days > 30).length).toBeGreaterThan(0);
  });

  it("answers only the customers customerIds names, and rejects a bad body or page size", async () => {
    const simulator = await start({ customers: 30 });
    const token = await tokenFor(simulator, LICENSE_PERMISSION);
    const customers = await customersOf(simulator);
    const wanted = [customers[4]?.id, customers[17]?.id, "no-such-customer"];
    const filtered = await page<ServicesItem>(
      await post(simulator, SERVICES_PATH, token, { customerIds: wanted }),
    );
    expect(filtered.data.map((item) => item.customerId)).toEqual(wanted.slice(0, 2));
    expect(filtered.metadata.totalCount).toBe(2);
    expect(simulator.requests.at(-1)).toMatchObject({ customerIds: wanted, pageSize: 50 });

    expect((await post(simulator, SERVICES_PATH, token, { customerIds: "x" })).status).toBe(400);
    expect((await post(simulator, SERVICES_PATH, token, {}, "?pageSize=101")).status).toBe(400);
    expect((await post(simulator, SERVICES_PATH, token, {}, "?pageIndex=0")).status).toBe(400);
    expect((await post(simulator, SERVICES_PATH, "not-a-token")).status).toBe(401);
  });
});

describe("jobs endpoint", () => {
  it("pages one customer's jobs in the documented envelope, and 404s an unknown customer", async () => {
    const simulator = await start({ customers: 60, seed: 7 });
    const token = await tokenFor(simulator, JOBS_PERMISSION);
    const customers = await customersOf(simulator);
    let pagedOne = false;
    for (const customer of customers) {
      const jobs = await all<Job>(simulator, jobsPath(customer.id), token);
      for (const job of jobs) {
        expect(Object.keys(job).sort()).toEqual(JOB_FIELDS);
        for (const field of ["jobType", "jobModule", "status"])
          expect(typeof job[field]).toBe("number");
        for (const field of [
          "totalCount",
          "failedCount",
          "successfulCount",
          "skippedCount",
          "warningCount",
        ])
          expect(job[field]).toMatch(/^\d+$/);
        expect(job.lastModifyTime).toMatch(ISO);
      }
      if (!pagedOne && jobs.length >= 3) {
        pagedOne = true;
        const second = await page<Job>(
          await post(simulator, jobsPath(customer.id), token, {}, "?pageIndex=2&pageSize=2"),
        );
        expect(second.metadata).toEqual({ pageIndex: 2, pageSize: 2, totalCount: jobs.length });
        expect(second.data).toEqual(jobs.slice(2, 4));
        const first = jobs[0];
        if (first === undefined) throw new Error("no job");
        const ofType = await page<Job>(
          await post(simulator, jobsPath(customer.id), token, { jobType: first.jobType }),
        );
        expect(ofType.data).toEqual(jobs.filter((job) => job.jobType === first.jobType));
      }
    }
    expect(pagedOne).toBe(true);

    const unknown = await post(simulator, jobsPath("no-such-customer"), token);
    expect(unknown.status).toBe(404);
    const someone = customers[0]?.id ?? "";
    expect((await post(simulator, jobsPath(someone), token, { jobType: "7" })).status).toBe(400);
    expect((await post(simulator, jobsPath(someone), token, {}, "?pageSize=0")).status).toBe(400);
  });

  it("gives every Failed, Multiple Issues Found or Finished with Exception customer a failing job", async () => {
    const simulator = await start({ customers: 200, seed: 11 });
    const token = await tokenFor(simulator, JOBS_PERMISSION);
    const customers = await customersOf(simulator);
    const failing = customers.filter((c) => FAILING_CUSTOMER_STATUSES.includes(c.jobStatus));
    expect(failing.length).toBeGreaterThan(10);
    for (const customer of failing) {
      const statuses = (await all<Job>(simulator, jobsPath(customer.id), token)).map(
        (j) => j.status,
      );
      expect(
        statuses.some((status) => FAILING_JOB_STATUSES.includes(status)),
        customer.id,
      ).toBe(true);
      // Failed (2) is explained by a job whose status is Failed (3).
      if (customer.jobStatus === 2) expect(statuses).toContain(3);
    }
    const working = customers.filter((c) => c.jobStatus === 1);
    let finished = 0;
    let total = 0;
    for (const customer of working) {
      const statuses = (await all<Job>(simulator, jobsPath(customer.id), token)).map(
        (j) => j.status,
      );
      expect(statuses.filter((status) => FAILING_JOB_STATUSES.includes(status))).toEqual([]);
      finished += statuses.filter((status) => status === 2).length;
      total += statuses.length;
    }
    // Mostly succeeded: Finished.
    expect(finished / total).toBeGreaterThan(0.5);
  });
});

describe("permissions", () => {
  it("grants each endpoint only to a token carrying its own scope", async () => {
    const simulator = await start({ customers: 5 });
    const customerId = (await customersOf(simulator))[0]?.id ?? "";
    const customersToken = await tokenFor(simulator, CUSTOMERS_PERMISSION);
    const licenseToken = await tokenFor(simulator, LICENSE_PERMISSION);
    const jobsToken = await tokenFor(simulator, JOBS_PERMISSION);
    expect((await post(simulator, SERVICES_PATH, customersToken)).status).toBe(403);
    expect((await post(simulator, jobsPath(customerId), licenseToken)).status).toBe(403);
    expect((await post(simulator, CUSTOMERS_PATH, jobsToken)).status).toBe(403);
    expect((await post(simulator, SERVICES_PATH, licenseToken)).status).toBe(200);
    expect((await post(simulator, jobsPath(customerId), jobsToken)).status).toBe(200);
    // One token for several scopes, when the registration holds them all.
    const both = await tokenFor(simulator, `${CUSTOMERS_PERMISSION} ${JOBS_PERMISSION}`);
    expect((await post(simulator, jobsPath(customerId), both)).status).toBe(200);
    expect((await post(simulator, CUSTOMERS_PATH, both)).status).toBe(200);
  });

  it("denies a permission: invalid_scope for a token asking it, 403 from its endpoint", async () => {
    const simulator = await start({ customers: 5, deny: [JOBS_PERMISSION] });
    const customerId = (await customersOf(simulator))[0]?.id ?? "";
    for (const scope of [JOBS_PERMISSION, `${CUSTOMERS_PERMISSION} ${JOBS_PERMISSION}`]) {
      const refused = await requestToken(simulator, { ...SECRET_FORM, scope });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ error: "invalid_scope" });
    }
    // The other permissions are untouched.
    const licenseToken = await tokenFor(simulator, LICENSE_PERMISSION);
    expect((await post(simulator, SERVICES_PATH, licenseToken)).status).toBe(200);

    // Granted again, a token is issued; revoked while it lives, its endpoint answers 403.
    simulator.denyPermissions([]);
    const jobsToken = await tokenFor(simulator, JOBS_PERMISSION);
    expect((await post(simulator, jobsPath(customerId), jobsToken)).status).toBe(200);
    simulator.denyPermissions([JOBS_PERMISSION]);
    const forbidden = await post(simulator, jobsPath(customerId), jobsToken);
    expect(forbidden.status).toBe(403);
    expect(JSON.stringify(await forbidden.json())).toContain(JOBS_PERMISSION);
    expect((await post(simulator, SERVICES_PATH, licenseToken)).status).toBe(200);

    await expect(start({ deny: ["elements.everything"] })).rejects.toThrow(/unknown permission/);
  });
});

describe("simulate --deny", () => {
  it("serves a registration without the permission, and refuses an unknown one", async () => {
    const simulate = spawnCli(["simulate", "--customers", "2", "--deny", JOBS_PERMISSION], {});
    try {
      await expect
        .poll(() => /listening on (http:\/\/\S+)/.exec(simulate.stdout())?.[1], { timeout: 20_000 })
        .toBeDefined();
      const url = /listening on (http:\/\/\S+)/.exec(simulate.stdout())?.[1] ?? "";
      expect(simulate.stdout()).toContain(`The app registration lacks: ${JOBS_PERMISSION}`);
      const refused = await requestToken({ url }, { ...SECRET_FORM, scope: JOBS_PERMISSION });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ error: "invalid_scope" });
      expect((await requestToken({ url }, SECRET_FORM)).status).toBe(200);
    } finally {
      simulate.child.kill("SIGTERM");
    }
    expect((await simulate.exited).code).toBe(0);

    const unknown = await runCli(["simulate", "--deny", "elements.everything"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--deny must name elements.customers.read.all");
  });
});

describe("faults", () => {
  it("reach the services and jobs endpoints, a jobs fault one customer's only", async () => {
    const simulator = await start({ customers: 3 });
    const [one, two] = (await customersOf(simulator)).map((c) => c.id);
    if (one === undefined || two === undefined) throw new Error("too few customers");
    const token = await tokenFor(simulator, JOBS_PERMISSION);
    simulator.injectFault({ endpoint: "jobs", customerId: two, status: 503, times: 2 });
    expect((await post(simulator, jobsPath(one), token)).status).toBe(200);
    expect((await post(simulator, jobsPath(two), token)).status).toBe(503);
    expect((await post(simulator, jobsPath(two), token)).status).toBe(503);
    expect((await post(simulator, jobsPath(two), token)).status).toBe(200);
    simulator.injectFault({ endpoint: "services", status: 429, retryAfter: "1" });
    const limited = await post(
      simulator,
      SERVICES_PATH,
      await tokenFor(simulator, LICENSE_PERMISSION),
    );
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(() => {
      simulator.injectFault({ endpoint: "services", corrupt: "missing-id" });
    }).toThrow(/customers faults only/);
    expect(() => {
      simulator.injectFault({ endpoint: "services", customerId: one, status: 500 });
    }).toThrow(/jobs faults only/);
  });
});

describe("generated data", () => {
  it("is the same for the same seed and differs for another", async () => {
    // One instant for every simulator: generated subscriptions are as of the clock.
    const now = Date.UTC(2026, 11, 4, 9);
    const answers = async (seed: number) => {
      const simulator = await start({ customers: 40, seed, now: () => now });
      const customers = await customersOf(simulator);
      const services = await all<ServicesItem>(
        simulator,
        SERVICES_PATH,
        await tokenFor(simulator, LICENSE_PERMISSION),
      );
      const jobsToken = await tokenFor(simulator, JOBS_PERMISSION);
      const jobs: Job[][] = [];
      for (const customer of customers)
        jobs.push(await all<Job>(simulator, jobsPath(customer.id), jobsToken));
      return { services, jobs };
    };
    const once = await answers(5);
    expect(await answers(5)).toEqual(once);
    expect(await answers(6)).not.toEqual(once);
    // A customer's subscriptions and jobs depend on it, not on where it stands in the list.
    const customers = generateCustomers(10, 5);
    const today = Date.UTC(2026, 11, 4);
    const reversed = [...customers].reverse();
    expect(customers.map((c) => generateServices(c, 5, today))).toEqual(
      reversed.map((c) => generateServices(c, 5, today)).reverse(),
    );
    expect(customers.map((c) => generateJobs(c, 5, today))).toEqual(
      reversed.map((c) => generateJobs(c, 5, today)).reverse(),
    );
  });
});

describe("generated subscriptions over time", () => {
  type Product = Record<string, string>;
  /** Each listed product by customer and identity (service, source, subscription name). */
  async function productsAt(simulator: Simulator): Promise<Map<string, Product>> {
    const token = await tokenFor(simulator, LICENSE_PERMISSION);
    const items = await all<ServicesItem>(simulator, SERVICES_PATH, token);
    return new Map(
      items.flatMap((item) =>
        item.products.map((p): [string, Product] => [
          `${item.customerId}|${String(p.service)}|${String(p.source)}|${String(p.subscriptionName)}`,
          p as Product,
        ]),
      ),
    );
  }
  const SEAT_FIELDS = [
    "purchasedUserSeats",
    "microsoftLicenseAssigned",
    "microsoftLicenseAvailable",
  ] as const;
  const withoutSeats = (p: Product) =>
    Object.fromEntries(
      Object.entries(p).filter(([field]) => !SEAT_FIELDS.includes(field as never)),
    );
  /** The same day `months` later, as the simulator counts terms. */
  const monthsLater = (iso: string | undefined, months: number) => {
    const date = new Date(String(iso));
    return new Date(
      Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, date.getUTCDate()),
    ).toISOString();
  };

  it("keep their expiration until it passes, then renew one term on, or lapse", async () => {
    let now = Date.UTC(2026, 11, 4, 9);
    const simulator = await start({ customers: 60, seed: 8, now: () => now });
    const before = await productsAt(simulator);
    expect(await productsAt(simulator)).toEqual(before);
    // Later that day, then just past midnight: nothing has expired, nothing changes.
    now = Date.UTC(2026, 11, 4, 23, 59);
    expect(await productsAt(simulator)).toEqual(before);
    const tomorrow = Date.UTC(2026, 11, 5);
    now = tomorrow + 60_000;
    const next = await productsAt(simulator);
    for (const [key, product] of before) {
      if (Date.parse(String(product.expirationDate)) > tomorrow) {
        expect(next.get(key)).toEqual(product);
      }
    }

    // Five weeks on: every monthly subscription's term has turned over.
    now += 35 * DAY_MS;
    const after = await productsAt(simulator);
    let renewed = 0;
    let lapsed = 0;
    for (const [key, product] of next) {
      const expiration = Date.parse(String(product.expirationDate));
      const later = after.get(key);
      if (expiration > now) {
        // Not passed: the same expiration, the same seats (the customer did not change).
        expect(later).toEqual(product);
        continue;
      }
      if (later === undefined) {
        lapsed++;
        continue;
      }
      // Passed: a whole number of terms on (none if it was not renewed)...
      const months = product.paymentType === "Monthly" ? 1 : 12;
      const terms = [0, 1, 2].find(
        (n) =>
          monthsLater(product.expirationDate, n * months) ===
          `${String(later.expirationDate).slice(0, 19)}.000Z`,
      );
      expect(terms, `${key}: ${product.expirationDate} → ${later.expirationDate}`).toBeDefined();
      // ...and current, or listed expired for at most 30 days after its last term.
      const laterExpiration = Date.parse(String(later.expirationDate));
      if (laterExpiration <= now) expect(laterExpiration + 30 * DAY_MS).toBeGreaterThan(now);
      // A renewal may change the seats; nothing else.
      expect(withoutSeats(later)).toEqual({
        ...withoutSeats(product),
        expirationDate: later.expirationDate,
        contractEndDate: later.contractEndDate,
      });
      if (terms === 0) lapsed++;
      else renewed++;
    }
    expect(renewed).toBeGreaterThan(0);
    expect(lapsed + renewed).toBeLessThan(next.size);
  });

  it("some stop renewing: listed expired for 30 days, then left out", () => {
    const customers = generateCustomers(300, 3);
    const now = Date.UTC(2026, 11, 4, 9);
    const expired = customers.flatMap((customer) =>
      (generateServices(customer, 3, now)?.products ?? [])
        .filter((p) => Date.parse(p.expirationDate) <= now)
        .map((p) => ({ customer, product: p })),
    );
    expect(expired.length).toBeGreaterThan(0);
    for (const { customer, product } of expired) {
      expect(Date.parse(product.expirationDate) + 30 * DAY_MS).toBeGreaterThan(now);
      const gone = Date.parse(product.expirationDate) + 30 * DAY_MS;
      const products = generateServices(customer, 3, gone)?.products ?? [];
      expect(products.map((p) => p.service)).not.toContain(product.service);
    }
  });

  it("change seats when a customer's record changes, and only then between renewals", async () => {
    const now = Date.UTC(2026, 11, 4, 9);
    const customers = generateCustomers(30, 4);
    const simulator = await start({ customers: 0, seed: 4, now: () => now });
    simulator.setCustomers(customers);
    const before = await productsAt(simulator);
    // An unchanged customer list, served again (a copy): the same data.
    simulator.setCustomers(structuredClone(customers));
    expect(await productsAt(simulator)).toEqual(before);

    const changed = structuredClone(customers);
    const edited = new Set<string>();
    for (const customer of changed.slice(0, 10)) {
      customer.jobStatus = customer.jobStatus === 2 ? 1 : 2;
      edited.add(customer.id);
    }
    simulator.setCustomers(changed);
    const after = await productsAt(simulator);
    expect([...after.keys()]).toEqual([...before.keys()]);
    let seatsChanged = 0;
    for (const [key, product] of before) {
      const later = after.get(key);
      if (!edited.has(key.split("|")[0] ?? "")) {
        expect(later).toEqual(product);
        continue;
      }
      expect(later && withoutSeats(later)).toEqual(withoutSeats(product));
      if (later?.purchasedUserSeats !== product.purchasedUserSeats) seatsChanged++;
    }
    expect(seatsChanged).toBeGreaterThan(0);
  });
});

describe("data file", () => {
  it("derives jobs for customers set in memory, or serves those set in memory", async () => {
    const simulator = await start({ customers: 0 });
    const failing = { id: "m-1", jobStatus: 2, managementMode: 1, tenants: [] };
    const token = await tokenFor(simulator, JOBS_PERMISSION);
    expect((await post(simulator, jobsPath("m-1"), token)).status).toBe(404);
    simulator.setCustomers([failing]);
    const statuses = (await all<Job>(simulator, jobsPath("m-1"), token)).map((job) => job.status);
    expect(statuses).toContain(3);
    // Set in memory too: the jobs replace the derived ones until unset.
    const stopped = { jobType: 12, jobModule: 356, status: 10, jobId: "J-9", name: "N/A" };
    simulator.setResources({ jobs: { "m-1": [stopped] } });
    expect(await all<Job>(simulator, jobsPath("m-1"), token)).toEqual([stopped]);
    const services = await all<ServicesItem>(
      simulator,
      SERVICES_PATH,
      await tokenFor(simulator, LICENSE_PERMISSION),
    );
    expect(services.map((item) => item.customerId)).toEqual(["m-1"]);
    simulator.setResources(undefined);
    expect((await all<Job>(simulator, jobsPath("m-1"), token)).map((job) => job.status)).toEqual(
      statuses,
    );
  });

  it("derives subscriptions and jobs from the file's customers when it lists none", async () => {
    const file = join(dir, "derived.json");
    const customers = generateCustomers(8, 2);
    await writeCustomersFile(file, customers);
    const now = () => Date.UTC(2026, 11, 4, 9);
    const fromFile = await start({ dataFile: file, seed: 2, now });
    const generated = await start({ customers: 8, seed: 2, now });
    const items = async (s: Simulator) =>
      all<ServicesItem>(s, SERVICES_PATH, await tokenFor(s, LICENSE_PERMISSION));
    expect(await items(fromFile)).toEqual(await items(generated));
  });

  it("serves the file's own services and jobs, re-read on every request", async () => {
    const file = join(dir, "resources.json");
    const customers = [
      { id: "c-1", organization: "One", jobStatus: 1, managementMode: 1, tenants: [] },
      { id: "c-2", organization: "Two", jobStatus: 2, managementMode: 1, tenants: [] },
    ];
    const product = {
      service: "Cloud Backup for Microsoft 365",
      purchasedUserSeats: "50",
      expirationDate: "2027-01-31T00:00:00Z",
    };
    const running = { jobType: 7, jobModule: 303, status: 1, jobId: "J-1", name: "N/A" };
    const older = { jobType: 7, jobModule: 305, status: 2, jobId: "J-0", name: "OneDrive" };
    const services = [
      { customerId: "c-1", organization: "One", customer: "a@one.example", products: [product] },
    ];
    await writeCustomersFile(file, customers, { services, jobs: { "c-1": [running, older] } });
    const simulator = await start({ dataFile: file });
    const licenseToken = await tokenFor(simulator, LICENSE_PERMISSION);
    const jobsToken = await tokenFor(simulator, JOBS_PERMISSION);
    expect(await all<ServicesItem>(simulator, SERVICES_PATH, licenseToken)).toEqual(services);
    expect(await all<Job>(simulator, jobsPath("c-1"), jobsToken)).toEqual([running, older]);
    // A customer the file's jobs leave out has none; one it does not list is unknown.
    expect(await all<Job>(simulator, jobsPath("c-2"), jobsToken)).toEqual([]);
    expect((await post(simulator, jobsPath("c-3"), jobsToken)).status).toBe(404);

    // Between runs: seats and expiration change, the job fails, the older one is no longer listed.
    const renewed = {
      ...product,
      purchasedUserSeats: "75",
      expirationDate: "2028-01-31T00:00:00Z",
    };
    const failed = { ...running, status: 3, failedCount: "4" };
    await writeCustomersFile(file, customers, {
      services: [{ ...services[0], products: [renewed] }],
      jobs: { "c-1": [failed] },
    });
    const [item] = await all<ServicesItem>(simulator, SERVICES_PATH, licenseToken);
    expect(item?.products).toEqual([renewed]);
    expect(await all<Job>(simulator, jobsPath("c-1"), jobsToken)).toEqual([failed]);

    // Customers set in memory replace the file's, not its services and jobs.
    simulator.setCustomers([...customers, { id: "c-3", jobStatus: 2, managementMode: 1 }]);
    expect(await all<Job>(simulator, jobsPath("c-1"), jobsToken)).toEqual([failed]);
    expect(await all<Job>(simulator, jobsPath("c-3"), jobsToken)).toEqual([]);
    simulator.setCustomers(undefined);
    expect((await post(simulator, jobsPath("c-3"), jobsToken)).status).toBe(404);

    await writeFile(file, JSON.stringify({ customers, jobs: [] }));
    const broken = await post(simulator, jobsPath("c-1"), jobsToken);
    expect(broken.status).toBe(500);
    expect(((await broken.json()) as { message: string }).message).toMatch(
      /"jobs" must be an object of lists/,
    );
  });

  it("serves the manual's example file as it says", async () => {
    const match = /<!-- data-file-resources-example -->\s*```json\n([\s\S]*?)```/.exec(
      manualText(),
    );
    if (!match?.[1]) throw new Error("the manual has no services and jobs example");
    const file = join(dir, "readme.json");
    await writeFile(file, match[1]);
    const example = JSON.parse(match[1]) as {
      services: ServicesItem[];
      jobs: Record<string, Job[]>;
    };
    const simulator = await start({ dataFile: file });
    const licenseToken = await tokenFor(simulator, LICENSE_PERMISSION);
    const jobsToken = await tokenFor(simulator, JOBS_PERMISSION);
    expect(await all<ServicesItem>(simulator, SERVICES_PATH, licenseToken)).toEqual(
      example.services,
    );
    for (const [customerId, jobs] of Object.entries(example.jobs))
      expect(await all<Job>(simulator, jobsPath(customerId), jobsToken)).toEqual(jobs);
  });
});
