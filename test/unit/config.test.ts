import { describe, expect, it } from "vitest";
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
      maxResponseBytes: 52_428_800,
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
    expect(readElementsConfig({ ...minimal, ELEMENTS_CONCURRENCY: "32" }).concurrency).toBe(32);
    for (const value of ["0", "33", "2.5", "many"]) {
      expect(() => readElementsConfig({ ...minimal, ELEMENTS_CONCURRENCY: value })).toThrow(
        new ConfigError(
          `ELEMENTS_CONCURRENCY must be an integer from 1 to 32 (pages fetched at the same time); got "${value}".`,
        ),
      );
    }
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
