import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig, type Env } from "../../src/config.ts";
import { ConfigError } from "../../src/errors.ts";

const minimal = { ELEMENTS_CLIENT_ID: "app-id", ELEMENTS_CLIENT_SECRET: "s3cret-value" };

const readElementsConfig = (env: Env) => readConfig(env, ["elements"]).elements;
const readRemovalPolicy = (env: Env) => readConfig(env, ["removals"]).removals;
const readDatabaseTimeout = (env: Env) => readConfig(env, ["databaseTimeout"]).databaseTimeout;
const readDatabaseUrl = (env: Env) => readConfig(env, ["database"]).database.url;
const readLogLevel = (env: Env) => readConfig(env, ["logging"]).logging.level;
/** The hosts alone: the credentials the elements concern needs are made up. */
function resolveHosts(env: Env): { apiUrl: string; identityUrl: string } {
  const { apiUrl, identityUrl } = readElementsConfig({ ...minimal, ...env });
  return { apiUrl, identityUrl };
}

describe("configuration", () => {
  it("defaults to the commercial hosts, the documented scope and 100 per page", () => {
    expect(readElementsConfig(minimal)).toEqual({
      apiUrl: "https://graph.avepointonlineservices.com",
      identityUrl: "https://identity.avepointonlineservices.com",
      clientId: "app-id",
      credentials: { kind: "secret", clientSecret: "s3cret-value" },
      scope: "elements.customers.read.all",
      pageSize: 100,
      timeoutMs: 30_000,
      maxAttempts: 6,
      maxRetryTimeMs: 300_000,
      concurrency: 4,
      maxResponseBytes: 2_097_152,
      hostVariables: { api: "ELEMENTS_REGION", identity: "ELEMENTS_REGION" },
    });
  });

  it("names the setting that chose each host, for a host that cannot be reached", () => {
    const read = (env: Env) => readElementsConfig({ ...minimal, ...env }).hostVariables;
    expect(read({ ELEMENTS_API_URL: "http://127.0.0.1:9" })).toEqual({
      api: "ELEMENTS_API_URL",
      identity: "ELEMENTS_REGION",
    });
    expect(read({ ELEMENTS_REGION: "gov", ELEMENTS_IDENTITY_URL: "http://127.0.0.1:9" })).toEqual({
      api: "ELEMENTS_REGION",
      identity: "ELEMENTS_IDENTITY_URL",
    });
  });

  it("reads ELEMENTS_MAX_RESPONSE_BYTES from 1024 bytes up", () => {
    const read = (value: string) =>
      readElementsConfig({ ...minimal, ELEMENTS_MAX_RESPONSE_BYTES: value }).maxResponseBytes;
    expect(read("1024")).toBe(1024);
    expect(read("1000000")).toBe(1_000_000);
    for (const value of ["0", "1023", "50MB", "1.5"]) {
      expect(() => read(value)).toThrow(
        new ConfigError(
          `ELEMENTS_MAX_RESPONSE_BYTES must be a number of bytes from 1024 to 2147483647; got "${value}".`,
        ),
      );
    }
  });

  it("refuses a response cap whose pages in flight could outgrow the heap", () => {
    const env = {
      ...minimal,
      ELEMENTS_MAX_RESPONSE_BYTES: "2147483647",
      ELEMENTS_CONCURRENCY: "32",
    };
    expect(() => readElementsConfig(env)).toThrow(
      /^ELEMENTS_MAX_RESPONSE_BYTES \(2147483647 bytes\) × 97 pages a run may hold at once \(ELEMENTS_CONCURRENCY 32\) could take 4767744 MiB of heap once parsed, more than the \d+ MiB this process allows them/,
    );
  });

  it("reads MAX_REMOVAL_FRACTION from 0 to 1, 0.2 by default", () => {
    expect(readRemovalPolicy({})).toEqual({ maxRemovalFraction: 0.2 });
    expect(readRemovalPolicy({ MAX_REMOVAL_FRACTION: "0" }).maxRemovalFraction).toBe(0);
    expect(readRemovalPolicy({ MAX_REMOVAL_FRACTION: "0.05" }).maxRemovalFraction).toBe(0.05);
    expect(readRemovalPolicy({ MAX_REMOVAL_FRACTION: "1" }).maxRemovalFraction).toBe(1);
    for (const value of ["-0.1", "1.5", "20%", "half"]) {
      expect(() => readRemovalPolicy({ MAX_REMOVAL_FRACTION: value })).toThrow(
        new ConfigError(
          `MAX_REMOVAL_FRACTION must be a fraction from 0 to 1 such as 0.2 (1 turns the mass-removal guard off); got "${value}".`,
        ),
      );
    }
  });

  it("reads ELEMENTS_CONCURRENCY from 1 to 32", () => {
    expect(readElementsConfig({ ...minimal, ELEMENTS_CONCURRENCY: "1" }).concurrency).toBe(1);
    // 32 pages at a time fit any heap only with a smaller response cap (next test).
    const small = { ...minimal, ELEMENTS_MAX_RESPONSE_BYTES: "65536" };
    expect(readElementsConfig({ ...small, ELEMENTS_CONCURRENCY: "32" }).concurrency).toBe(32);
    for (const value of ["0", "33", "2.5", "many"]) {
      expect(() => readElementsConfig({ ...minimal, ELEMENTS_CONCURRENCY: value })).toThrow(
        new ConfigError(
          `ELEMENTS_CONCURRENCY must be an integer from 1 to 32 (pages fetched at the same time); got "${value}".`,
        ),
      );
    }
  });

  it("knows every region and environment of the live documentation, with its identity service", () => {
    const commercialIdentity = "https://identity.avepointonlineservices.com";
    for (const code of [
      "au",
      "sg",
      "ca",
      "ne",
      "we",
      "fr",
      "de",
      "jp",
      "kr",
      "ch",
      "uk",
      "us",
      "uae",
      "za",
      "qa",
    ]) {
      expect(resolveHosts({ ELEMENTS_REGION: code })).toEqual({
        apiUrl: `https://graph-${code}.avepointonlineservices.com`,
        identityUrl: commercialIdentity,
      });
    }
    for (const code of ["gcp-au", "gcp-jp", "gcp-us", "gcp-we", "gcp-kr"]) {
      expect(resolveHosts({ ELEMENTS_REGION: code })).toEqual({
        apiUrl: `https://graph-${code}.avepointonlineservices.com`,
        identityUrl: commercialIdentity,
      });
    }
    expect(resolveHosts({ ELEMENTS_REGION: "AOS2" })).toEqual({
      apiUrl: "https://graph-aos2.avepointonlineservices.com",
      identityUrl: "https://identity-aos2.avepointonlineservices.com",
    });
    expect(resolveHosts({ ELEMENTS_REGION: "FedRAMP" })).toEqual({
      apiUrl: "https://graphusgovapi.online15.net",
      identityUrl: "https://identity.online15.net",
    });
    expect(resolveHosts({ ELEMENTS_REGION: "commercial" })).toEqual({
      apiUrl: "https://graph.avepointonlineservices.com",
      identityUrl: commercialIdentity,
    });
  });

  it("picks hosts by region code or full URL", () => {
    expect(resolveHosts({ ELEMENTS_REGION: "gov" })).toEqual({
      apiUrl: "https://graph-gov.avepointonlineservices.com",
      identityUrl: "https://identity-gov.avepointonlineservices.com",
    });
    expect(resolveHosts({ ELEMENTS_REGION: "jp" })).toEqual({
      apiUrl: "https://graph-jp.avepointonlineservices.com",
      identityUrl: "https://identity.avepointonlineservices.com",
    });
    expect(
      resolveHosts({
        ELEMENTS_API_URL: "http://127.0.0.1:8080/",
        ELEMENTS_IDENTITY_URL: "http://127.0.0.1:8081",
      }),
    ).toEqual({
      apiUrl: "http://127.0.0.1:8080",
      identityUrl: "http://127.0.0.1:8081",
    });
  });

  it("reads DATABASE_QUERY_TIMEOUT_MS, 10 minutes by default", () => {
    expect(readDatabaseTimeout({})).toEqual({ queryTimeoutMs: 600_000 });
    expect(readDatabaseTimeout({ DATABASE_QUERY_TIMEOUT_MS: "5000" })).toEqual({
      queryTimeoutMs: 5000,
    });
    expect(() => readDatabaseTimeout({ DATABASE_QUERY_TIMEOUT_MS: "999" })).toThrow(ConfigError);
  });

  it("refuses API and identity URLs with credentials, without echoing them", () => {
    for (const name of ["ELEMENTS_API_URL", "ELEMENTS_IDENTITY_URL"]) {
      expect(() => resolveHosts({ [name]: "https://user:hunter2@graph.example.com" })).toThrow(
        new ConfigError(
          `${name} must be an http(s) URL without a user name or password; the value given is not.`,
        ),
      );
    }
  });

  it("takes a certificate instead of a secret, never both", () => {
    expect(
      readElementsConfig({ ELEMENTS_CLIENT_ID: "a", ELEMENTS_CERTIFICATE_PATH: "/c.pem" })
        .credentials,
    ).toEqual({
      kind: "certificate",
      certificatePath: "/c.pem",
      passphrase: undefined,
    });
    expect(() => readElementsConfig({ ...minimal, ELEMENTS_CERTIFICATE_PATH: "/c.pem" })).toThrow(
      /either ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH/,
    );
  });

  it.each([
    [{ ELEMENTS_CLIENT_SECRET: "x" }, /^ELEMENTS_CLIENT_ID must be .*it is not set/],
    [
      { ELEMENTS_CLIENT_ID: "a" },
      /ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH must be set/,
    ],
    [{ ...minimal, ELEMENTS_REGION: "mars" }, /^ELEMENTS_REGION must be .*got "mars"/],
    [
      { ...minimal, ELEMENTS_PAGE_SIZE: "abc" },
      /^ELEMENTS_PAGE_SIZE must be an integer from 1 to 1000.*; got "abc"/,
    ],
    [{ ...minimal, ELEMENTS_PAGE_SIZE: "0" }, /^ELEMENTS_PAGE_SIZE must be/],
    [{ ...minimal, ELEMENTS_API_URL: "ftp://x" }, /^ELEMENTS_API_URL must be an http\(s\) URL/],
    [{ ...minimal, ELEMENTS_TIMEOUT_MS: "5" }, /^ELEMENTS_TIMEOUT_MS must be/],
  ])("rejects %o with a message naming the variable", (env, message) => {
    expect(() => readElementsConfig(env)).toThrow(ConfigError);
    expect(() => readElementsConfig(env)).toThrow(message);
  });

  it("checks DATABASE_URL without echoing it", () => {
    expect(readDatabaseUrl({ DATABASE_URL: "postgresql://u:p@h:5432/d" })).toBe(
      "postgresql://u:p@h:5432/d",
    );
    expect(() => readDatabaseUrl({})).toThrow(
      /^DATABASE_URL must be a PostgreSQL URL.*it is not set/,
    );
    const bad = "mysql://user:hunter2@host/db";
    expect(() => readDatabaseUrl({ DATABASE_URL: bad })).toThrow(/the value given is not/);
    try {
      readDatabaseUrl({ DATABASE_URL: bad });
    } catch (error) {
      expect(String(error)).not.toContain("hunter2");
    }
  });

  it("reads LOG_LEVEL", () => {
    expect(readLogLevel({})).toBe("info");
    expect(readLogLevel({ LOG_LEVEL: "debug" })).toBe("debug");
    expect(() => readLogLevel({ LOG_LEVEL: "loud" })).toThrow(/^LOG_LEVEL must be one of/);
  });
});

describe("every bad variable at once", () => {
  it("lists each bad variable of every concern read, one line each, in declaration order", () => {
    const env = {
      ...minimal,
      ELEMENTS_CLIENT_SECRET: "",
      ELEMENTS_PAGE_SIZE: "abc",
      ELEMENTS_REGION: "mars",
      LOG_FORMAT: "xml",
      DATABASE_URL: "mysql://u:hunter2@h/db",
    };
    let error: unknown;
    try {
      readConfig(env, ["database", "elements", "removals", "logging"]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "DATABASE_URL must be a PostgreSQL URL such as postgresql://user:password@host:5432/database; the value given is not.",
      'ELEMENTS_REGION must be "commercial" (the default), "gov", "aos2", "fedramp" or a data-center code (au, ca, de, us, fr, jp, kr, ne, sg, ch, uk, we, uae, za, qa, gcp-au, gcp-jp, gcp-us, gcp-we, gcp-kr); got "mars".',
      "ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH must be set: the app registration's client secret, or a PEM file with its certificate and private key.",
      'ELEMENTS_PAGE_SIZE must be an integer from 1 to 1000 (the API documents 100 as its maximum); got "abc".',
      'LOG_FORMAT must be "auto" (the default: "pretty" on a terminal, else "json"), "json" or "pretty"; got "xml".',
    ]);
    expect((error as ConfigError).message).toBe((error as ConfigError).problems.join("\n"));
    expect(String(error)).not.toContain("hunter2");
  });

  it("says the one bad variable word for word", () => {
    expect(() => readConfig({ ...minimal, ELEMENTS_PAGE_SIZE: "abc" }, ["elements"])).toThrow(
      new ConfigError(
        'ELEMENTS_PAGE_SIZE must be an integer from 1 to 1000 (the API documents 100 as its maximum); got "abc".',
      ),
    );
  });

  it("checks only the concerns asked for", () => {
    // No Elements credentials, a bad page size: neither matters to a command that does not call the API.
    expect(
      readConfig({ DATABASE_URL: "postgresql://h/d", ELEMENTS_PAGE_SIZE: "abc" }, [
        "database",
        "worker",
      ]),
    ).toEqual({
      database: { url: "postgresql://h/d" },
      worker: { cron: "0 2 * * *", timezone: "UTC", runOnStart: false, httpPort: 9464 },
    });
  });
});

describe("secrets from files (<NAME>_FILE)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "elements-sync-config-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function secretFile(name: string, content: string | Buffer): string {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** The problems readConfig reports, or [] when it reads the concerns. */
  function problemsOf(env: Env, concerns: Parameters<typeof readConfig>[1]): readonly string[] {
    try {
      readConfig(env, concerns);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  }

  it("reads the value without one trailing newline, \\n or \\r\\n", () => {
    const clientSecret = (content: string) => {
      const file = secretFile("client-secret", content);
      const { credentials } = readElementsConfig({
        ELEMENTS_CLIENT_ID: "a",
        ELEMENTS_CLIENT_SECRET_FILE: file,
      });
      return credentials.kind === "secret" ? credentials.clientSecret : undefined;
    };
    expect(clientSecret("s3cret")).toBe("s3cret");
    expect(clientSecret("s3cret\n")).toBe("s3cret");
    expect(clientSecret("s3cret\r\n")).toBe("s3cret");
    expect(clientSecret("s3cret\n\n")).toBe("s3cret\n");
    expect(clientSecret("s3cret\r\n\r\n")).toBe("s3cret\r\n");
    expect(clientSecret("  s3cret with spaces \t\r\n")).toBe("  s3cret with spaces \t");
    const url = secretFile("database-url", "postgresql://u:p@h:5432/d\n");
    expect(readDatabaseUrl({ DATABASE_URL_FILE: url })).toBe("postgresql://u:p@h:5432/d");
  });

  it("takes the certificate passphrase from a file", () => {
    const passphrase = secretFile("passphrase", "correct horse\n");
    expect(
      readElementsConfig({
        ELEMENTS_CLIENT_ID: "a",
        ELEMENTS_CERTIFICATE_PATH: "/c.pem",
        ELEMENTS_CERTIFICATE_PASSPHRASE_FILE: passphrase,
      }).credentials,
    ).toEqual({ kind: "certificate", certificatePath: "/c.pem", passphrase: "correct horse" });
  });

  it("treats an empty <NAME>_FILE as unset, like an empty variable", () => {
    expect(readDatabaseUrl({ DATABASE_URL: "postgresql://h/d", DATABASE_URL_FILE: "" })).toBe(
      "postgresql://h/d",
    );
  });

  it("reports each bad file in one line naming the variable and the path, never the content", () => {
    const content = "hunter2-in-the-file";
    const empty = secretFile("empty", "");
    const newline = secretFile("newline-only", "\r\n");
    const large = secretFile("large", Buffer.alloc(64 * 1024 + 1, "a"));
    const notUrl = secretFile("not-a-url", `${content}\n`);
    const missing = join(dir, "no-such-file");
    const cases: [env: Env, problem: string][] = [
      [
        { DATABASE_URL: "postgresql://h/d", DATABASE_URL_FILE: notUrl },
        "Set either DATABASE_URL or DATABASE_URL_FILE, not both.",
      ],
      [{ DATABASE_URL_FILE: missing }, `DATABASE_URL_FILE cannot be read (${missing}): ENOENT.`],
      [{ DATABASE_URL_FILE: dir }, `DATABASE_URL_FILE cannot be read (${dir}): EISDIR.`],
      [
        { DATABASE_URL_FILE: empty },
        `DATABASE_URL_FILE (${empty}) is empty; it must hold the value.`,
      ],
      [
        { DATABASE_URL_FILE: newline },
        `DATABASE_URL_FILE (${newline}) is empty; it must hold the value.`,
      ],
      [
        { DATABASE_URL_FILE: large },
        `DATABASE_URL_FILE (${large}) is larger than 64 KiB; it must hold the value only.`,
      ],
      [
        { DATABASE_URL_FILE: notUrl },
        `DATABASE_URL from DATABASE_URL_FILE (${notUrl}) must be a PostgreSQL URL such as postgresql://user:password@host:5432/database; the value given is not.`,
      ],
    ];
    for (const [env, problem] of cases) {
      expect(problemsOf(env, ["database"])).toEqual([problem]);
    }

    const elements = (env: Env) => problemsOf({ ELEMENTS_CLIENT_ID: "a", ...env }, ["elements"]);
    expect(
      elements({ ELEMENTS_CLIENT_SECRET: content, ELEMENTS_CLIENT_SECRET_FILE: notUrl }),
    ).toEqual(["Set either ELEMENTS_CLIENT_SECRET or ELEMENTS_CLIENT_SECRET_FILE, not both."]);
    // The unreadable file is the problem, not "no credentials".
    expect(elements({ ELEMENTS_CLIENT_SECRET_FILE: missing })).toEqual([
      `ELEMENTS_CLIENT_SECRET_FILE cannot be read (${missing}): ENOENT.`,
    ]);
    expect(
      elements({
        ELEMENTS_CERTIFICATE_PATH: "/c.pem",
        ELEMENTS_CERTIFICATE_PASSPHRASE: content,
        ELEMENTS_CERTIFICATE_PASSPHRASE_FILE: empty,
      }),
    ).toEqual([
      "Set either ELEMENTS_CERTIFICATE_PASSPHRASE or ELEMENTS_CERTIFICATE_PASSPHRASE_FILE, not both.",
    ]);
    // A secret from a file still counts as a secret next to a certificate.
    expect(
      elements({ ELEMENTS_CLIENT_SECRET_FILE: notUrl, ELEMENTS_CERTIFICATE_PATH: "/c.pem" }),
    ).toEqual(["Set either ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH, not both."]);
  });
});

describe("HTTP_HOST", () => {
  const readWorker = (env: Env) => readConfig(env, ["worker"]).worker;
  it("takes an IP address to listen on, every interface when unset", () => {
    expect(readWorker({}).httpHost).toBeUndefined();
    expect(readWorker({ HTTP_HOST: "127.0.0.1" }).httpHost).toBe("127.0.0.1");
    expect(readWorker({ HTTP_HOST: "::1" }).httpHost).toBe("::1");
    expect(() => readWorker({ HTTP_HOST: "localhost:9464" })).toThrow(
      new ConfigError(
        'HTTP_HOST must be an IP address to listen on, such as 127.0.0.1 or ::1 (unset: every interface); got "localhost:9464".',
      ),
    );
  });
});

describe("ELEMENTS_RESOURCES and ELEMENTS_JOBS_FOR_STATUS", () => {
  const readResources = (env: Env) => readConfig(env, ["resources"]).resources;
  const problem = (env: Env): string => {
    try {
      readResources(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.join("\n");
    }
    throw new Error("no ConfigError");
  };

  it("syncs every resource for every customer by default", () => {
    expect(readResources({})).toEqual({
      resources: ["customers", "services", "jobs"],
      jobsForStatus: undefined,
    });
    // An empty variable counts as unset.
    expect(readResources({ ELEMENTS_RESOURCES: "", ELEMENTS_JOBS_FOR_STATUS: "" })).toEqual(
      readResources({}),
    );
  });

  it("takes the resources in any order and case, and runs them in run order", () => {
    const read = (list: string) => readResources({ ELEMENTS_RESOURCES: list }).resources;
    expect(read("jobs, Customers")).toEqual(["customers", "jobs"]);
    expect(read("services,customers,services,")).toEqual(["customers", "services"]);
    expect(read("customers")).toEqual(["customers"]);
  });

  it("refuses services or jobs without customers, naming the rule", () => {
    expect(problem({ ELEMENTS_RESOURCES: "services,jobs" })).toBe(
      "ELEMENTS_RESOURCES names services and jobs without customers: subscriptions and backup jobs are kept per customer, so customers must be synced too; add customers.",
    );
    expect(problem({ ELEMENTS_RESOURCES: "jobs" })).toMatch(
      /^ELEMENTS_RESOURCES names jobs without customers: /,
    );
    expect(problem({ ELEMENTS_RESOURCES: " , " })).toBe(
      "ELEMENTS_RESOURCES must list at least one of customers, services, jobs.",
    );
  });

  it("names an unknown resource, and what was probably meant", () => {
    expect(problem({ ELEMENTS_RESOURCES: "customers,servces" })).toBe(
      'ELEMENTS_RESOURCES: "servces" is not a resource; list customers, services, jobs, separated by commas. Did you mean "services"?',
    );
    expect(problem({ ELEMENTS_RESOURCES: "customers,tenants" })).toBe(
      'ELEMENTS_RESOURCES: "tenants" is not a resource; list customers, services, jobs, separated by commas.',
    );
  });

  it("reads the customer job-status codes whose jobs are synced, any non-negative integer", () => {
    const read = (list: string) => readResources({ ELEMENTS_JOBS_FOR_STATUS: list }).jobsForStatus;
    expect(read("2")).toEqual([2]);
    expect(read(" 5, 2,4 ,2")).toEqual([2, 4, 5]);
    // A code a newer API may add is taken as it is.
    expect(read("0,9")).toEqual([0, 9]);
    for (const bad of ["failed", "-1", "2.5", "3000000000"]) {
      expect(problem({ ELEMENTS_JOBS_FOR_STATUS: `2,${bad}` })).toBe(
        `ELEMENTS_JOBS_FOR_STATUS: "${bad}" is not a customer job-status code; list codes (0 N/A, 1 Working, 2 Failed, 3 Waiting for Configuration, 4 Multiple Issues Found, 5 Finished with Exception, 6 No Backup Update), separated by commas.`,
      );
    }
    expect(problem({ ELEMENTS_JOBS_FOR_STATUS: "," })).toBe(
      "ELEMENTS_JOBS_FOR_STATUS must list at least one customer job-status code, or be unset (every customer).",
    );
  });

  it("reports both at once, with every other bad variable", () => {
    let error: unknown;
    try {
      readConfig(
        {
          ...minimal,
          ELEMENTS_PAGE_SIZE: "abc",
          ELEMENTS_RESOURCES: "jobs",
          ELEMENTS_JOBS_FOR_STATUS: "x",
        },
        ["elements", "resources"],
      );
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems.map((line) => line.split(" ")[0])).toEqual([
      "ELEMENTS_PAGE_SIZE",
      "ELEMENTS_RESOURCES",
      "ELEMENTS_JOBS_FOR_STATUS:",
    ]);
  });
});
