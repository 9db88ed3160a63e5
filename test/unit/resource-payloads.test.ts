// Reading the services and backup jobs endpoints' items into what is stored
// (src/elements/services-payload.ts, jobs-payload.ts), the code lists of backup jobs
// (src/elements/codes.ts), and which integers of each endpoint's page are read as numbers.
import { describe, expect, it } from "vitest";
import {
  BACKUP_JOB_STATUS_LABELS,
  codeLabel,
  isKnownCode,
  JOB_MODULE_LABELS,
  JOB_TYPE_LABELS,
} from "../../src/elements/codes.ts";
import { parseIsoDate } from "../../src/elements/fields.ts";
import { parseJob, type JobRecord } from "../../src/elements/jobs-payload.ts";
import { parsePage } from "../../src/elements/page.ts";
import {
  parseServicesItem,
  type ProductRecord,
  type ServicesItem,
} from "../../src/elements/services-payload.ts";

/** The reference's sample item (elements-api.md, "Backup jobs"). */
const SAMPLE_JOB = {
  jobType: 7,
  jobModule: 304,
  status: 3,
  jobId: "FB20****1103****214502",
  name: "N/A",
  totalCount: "2323",
  failedCount: "0",
  successfulCount: "2323",
  skippedCount: "0",
  warningCount: "0",
  backupSize: "0 GB",
  startTime: "2025-09-11T03:21:16Z",
  endTime: "2025-09-11T03:38:56Z",
  jobDuration: "17m39s",
  lastModifyTime: "2025-09-11T03:38:57Z",
};

const PRODUCT = {
  service: "Fly Migration to Google",
  subscriptionModel: "Per project",
  purchasedUserSeats: "50",
  purchasedUnits: "N/A",
  microsoftLicenseAssigned: "N/A",
  microsoftLicenseAvailable: "N/A",
  purchasedCapacity: "0/1 GB",
  protectedCapacity: "0 GB",
  storage: "Bring your own storage",
  retention: "N/A",
  consumedStorage: "N/A",
  expirationDate: "2025-09-26T00:00:00Z",
  change: "N/A",
  source: "AvePoint subscription",
  paymentType: "Prepaid",
  subscriptionName: "FLY-1",
  package: "N/A",
  contractEndDate: "N/A",
};

function services(products: unknown[], customerId: unknown = "c-1"): unknown {
  return { customerId, organization: "One", customer: "a@one.example", products };
}

function accepted(raw: unknown): ServicesItem {
  const result = parseServicesItem(raw);
  if ("rejected" in result) throw new Error(`rejected: ${result.rejected}`);
  return result;
}

function product(fields: Record<string, unknown>): ProductRecord {
  const [only] = accepted(services([{ ...PRODUCT, ...fields }])).products;
  if (only === undefined) throw new Error("no product");
  return only;
}

function rejection(result: object): string {
  if (!("rejected" in result)) throw new Error("accepted");
  return String(result.rejected);
}

function job(fields: Record<string, unknown>): JobRecord {
  const result = parseJob({ ...SAMPLE_JOB, ...fields });
  if ("rejected" in result) throw new Error(`rejected: ${result.rejected}`);
  return result;
}

describe("a services item", () => {
  it("reads every field of a product, N/A as null, and keeps the product as sent", () => {
    const sent = { ...PRODUCT, region: "eu" };
    const item = accepted(services([sent]));
    expect(item.customerId).toBe("c-1");
    expect(item.products).toEqual([
      {
        service: "Fly Migration to Google",
        source: "AvePoint subscription",
        subscriptionName: "FLY-1",
        subscriptionModel: "Per project",
        purchasedUserSeats: 50,
        purchasedUnits: null,
        microsoftLicenseAssigned: null,
        microsoftLicenseAvailable: null,
        purchasedCapacity: "0/1 GB",
        protectedCapacity: "0 GB",
        storage: "Bring your own storage",
        retention: null,
        consumedStorage: null,
        expirationDate: new Date("2025-09-26T00:00:00Z"),
        change: null,
        paymentType: "Prepaid",
        package: null,
        contractEndDate: null,
        unparsable: [],
        sourceRecord: sent,
      },
    ]);
    expect(item.products[0]?.sourceRecord).toBe(sent);
    expect(accepted(services([])).products).toEqual([]);
  });

  it("stores an absent identity part as '', whether N/A, null or missing", () => {
    const { service, source, ...rest } = PRODUCT;
    expect(service && source).toBeTruthy();
    const read = accepted(
      services([
        { ...rest, subscriptionName: "N/A" },
        { ...PRODUCT, subscriptionName: null },
      ]),
    ).products;
    expect(read.map((p) => [p.service, p.source, p.subscriptionName])).toEqual([
      ["", "", ""],
      ["Fly Migration to Google", "AvePoint subscription", ""],
    ]);
  });

  it("makes a value that does not parse into its type null and names its field", () => {
    const odd = product({
      purchasedUserSeats: "lots",
      purchasedUnits: "2147483648",
      microsoftLicenseAssigned: "-3",
      microsoftLicenseAvailable: " 12 ",
      expirationDate: "next year",
      contractEndDate: "2025-02-30T00:00:00Z",
      change: -4,
      storage: { kind: "own" },
    });
    expect(odd).toMatchObject({
      purchasedUserSeats: null,
      purchasedUnits: null,
      microsoftLicenseAssigned: -3,
      microsoftLicenseAvailable: 12,
      expirationDate: null,
      contractEndDate: null,
      change: "-4",
      storage: null,
    });
    expect(odd.unparsable).toEqual([
      "purchasedUserSeats",
      "purchasedUnits",
      "storage",
      "expirationDate",
      "contractEndDate",
    ]);
  });

  it("rejects the whole item for text PostgreSQL cannot hold, naming the field", () => {
    expect(
      rejection(parseServicesItem(services([PRODUCT, { ...PRODUCT, storage: "a\u0000b" }]))),
    ).toBe("products.1.storage: contains a NUL character");
    expect(rejection(parseServicesItem(services([{ ...PRODUCT, service: "x\u0000" }])))).toBe(
      "products.0.service: contains a NUL character",
    );
    expect(rejection(parseServicesItem(services([{ ...PRODUCT, source: "\uD800" }])))).toBe(
      "products.0.source: contains an unpaired UTF-16 surrogate",
    );
    expect(rejection(parseServicesItem(services([PRODUCT], "c\u0000")))).toMatch(
      /^customerId: contains a NUL character/,
    );
    expect(
      rejection(parseServicesItem(services([{ ...PRODUCT, subscriptionName: "x".repeat(1001) }]))),
    ).toMatch(/^products\.0: service, source and subscriptionName are \d+ bytes together/);
  });

  it("rejects an item missing its customer or its products, naming the field", () => {
    expect(rejection(parseServicesItem({ products: [] }))).toMatch(/^customerId: /);
    expect(rejection(parseServicesItem({ customerId: "", products: [] }))).toMatch(/^customerId: /);
    expect(rejection(parseServicesItem({ customerId: "c-1" }))).toMatch(/^products: /);
    expect(rejection(parseServicesItem(services(["x"])))).toMatch(
      /^products\.0: expected an object/,
    );
    expect(rejection(parseServicesItem(services([{ ...PRODUCT, service: 7 }])))).toBe(
      "products.0.service: expected text, received number",
    );
    expect(rejection(parseServicesItem("item"))).toMatch(/^\(record\): /);
  });
});

describe("a backup job", () => {
  it("reads the reference's sample item", () => {
    expect(job({})).toEqual({
      jobId: "FB20****1103****214502",
      jobType: 7,
      jobModule: 304,
      status: 3,
      name: null,
      totalCount: 2323,
      failedCount: 0,
      successfulCount: 2323,
      skippedCount: 0,
      warningCount: 0,
      backupSize: "0 GB",
      jobDuration: "17m39s",
      startTime: new Date("2025-09-11T03:21:16Z"),
      endTime: new Date("2025-09-11T03:38:56Z"),
      lastModifyTime: new Date("2025-09-11T03:38:57Z"),
      unparsable: [],
      source: SAMPLE_JOB,
    });
  });

  it("takes counts up to 2^53 - 1 and makes others null, named", () => {
    const read = job({
      totalCount: "9007199254740991",
      failedCount: "9007199254740992",
      successfulCount: "12a",
      skippedCount: "-1",
      warningCount: 4,
      startTime: "yesterday",
      endTime: "N/A",
    });
    expect(read).toMatchObject({
      totalCount: 2 ** 53 - 1,
      failedCount: null,
      successfulCount: null,
      skippedCount: null,
      warningCount: 4,
      startTime: null,
      endTime: null,
    });
    expect(read.unparsable).toEqual([
      "failedCount",
      "successfulCount",
      "skippedCount",
      "startTime",
    ]);
  });

  it("rejects a job without its id or codes, naming the field", () => {
    const { jobId, ...withoutId } = SAMPLE_JOB;
    expect(jobId).toBeTruthy();
    expect(rejection(parseJob(withoutId))).toMatch(/^jobId: /);
    expect(rejection(parseJob({ ...SAMPLE_JOB, jobType: "7" }))).toMatch(/^jobType: /);
    expect(rejection(parseJob({ ...SAMPLE_JOB, status: undefined }))).toMatch(/^status: /);
    expect(rejection(parseJob({ ...SAMPLE_JOB, jobModule: 2 ** 31 }))).toMatch(/^jobModule: /);
    expect(rejection(parseJob({ ...SAMPLE_JOB, jobId: "" }))).toMatch(/^jobId: /);
  });

  it("rejects text PostgreSQL cannot hold, naming the field", () => {
    expect(rejection(parseJob({ ...SAMPLE_JOB, jobId: "J\u0000" }))).toBe(
      "jobId: contains a NUL character",
    );
    expect(rejection(parseJob({ ...SAMPLE_JOB, name: "a\u0000" }))).toBe(
      "name: contains a NUL character",
    );
    expect(rejection(parseJob({ ...SAMPLE_JOB, jobDuration: "\uDC00" }))).toBe(
      "jobDuration: contains an unpaired UTF-16 surrogate",
    );
  });
});

describe("a page's numbers", () => {
  const body = (data: unknown[]) =>
    JSON.stringify({ data, metadata: { pageIndex: 1, pageSize: 50, totalCount: data.length } });
  const read = (resource: "customers" | "services" | "jobs", text: string) =>
    parsePage(resource, { text, bytes: text.length }, () => undefined).data[0] as Record<
      string,
      unknown
    >;

  it("reads a job's codes as numbers and keeps a long count's exact text, which is unparsable", () => {
    const text = body([{ ...SAMPLE_JOB, status: -1, failedCount: -1 }])
      .replace('"status":-1', '"status":9007199254740993')
      .replace('"failedCount":-1', '"failedCount":12345678901234567890');
    const raw = read("jobs", text);
    expect(typeof raw.status).toBe("number");
    expect(JSON.isRawJSON(raw.failedCount)).toBe(true);
    expect(rejection(parseJob(raw))).toMatch(/^status: /);
    const kept = parseJob({ ...raw, status: 3 });
    if ("rejected" in kept) throw new Error(kept.rejected);
    expect(kept.failedCount).toBeNull();
    expect(kept.unparsable).toEqual(["failedCount"]);
  });

  it("keeps a long integer named status exactly in a customers or services page", () => {
    const text = body([{ id: "c-1", status: -1 }]).replace(
      '"status":-1',
      '"status":12345678901234567890',
    );
    expect(JSON.isRawJSON(read("customers", text).status)).toBe(true);
    expect(JSON.isRawJSON(read("services", text).status)).toBe(true);
    expect(typeof read("jobs", text).status).toBe("number");
  });
});

describe("ISO 8601 dates", () => {
  it("takes offsets and fractions, and no offset as UTC", () => {
    expect(parseIsoDate("2025-09-26T00:00:00Z")?.toISOString()).toBe("2025-09-26T00:00:00.000Z");
    expect(parseIsoDate("2025-09-26T02:30:00+02:30")?.toISOString()).toBe(
      "2025-09-26T00:00:00.000Z",
    );
    expect(parseIsoDate("2025-09-26T00:00:00.1234-0100")?.toISOString()).toBe(
      "2025-09-26T01:00:00.123Z",
    );
    expect(parseIsoDate("2025-09-26T10:00:00")?.toISOString()).toBe("2025-09-26T10:00:00.000Z");
    expect(parseIsoDate("2025-09-26")?.toISOString()).toBe("2025-09-26T00:00:00.000Z");
    expect(parseIsoDate("0050-01-01")?.getUTCFullYear()).toBe(50);
    expect(parseIsoDate("2024-02-29")).toBeDefined();
    for (const bad of ["2025-02-29", "2025-13-01", "2025-01-01T24:00:00Z", "26/09/2025", ""]) {
      expect(parseIsoDate(bad), bad).toBeUndefined();
    }
  });
});

describe("backup job codes", () => {
  it("lists every code the reference documents", () => {
    expect([...JOB_TYPE_LABELS.keys()]).toEqual([0, 7, 10, 11, 12, 15, 16]);
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect([...JOB_MODULE_LABELS.keys()]).toEqual([
      0,
      8,
      10,
      ...range(302, 312),
      ...range(355, 371),
      401,
      402,
      ...range(501, 508),
      550,
      551,
    ]);
    expect([...BACKUP_JOB_STATUS_LABELS.keys()]).toEqual(range(0, 14));
    expect(codeLabel("jobModule", 309)).toBe("Teams Chat");
    expect(codeLabel("backupJobStatus", 7)).toBe("Failed to start");
    expect(isKnownCode("jobType", 16)).toBe(true);
    expect(isKnownCode("jobType", 8)).toBe(false);
    expect(isKnownCode("backupJobStatus", 15)).toBe(false);
    expect(codeLabel("jobModule", 999)).toBe("unknown (999)");
  });
});
