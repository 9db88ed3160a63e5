// Configuration comes from the environment (and `.env`, loaded by the CLI). Each reader
// validates only what its command needs and names the variable that is wrong; secret
// values are never echoed back.
import { existsSync } from "node:fs";
import { validate as isValidCron } from "node-cron";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { CUSTOMERS_PERMISSION } from "./elements/payload.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Adds the variables of `.env` in the working directory to process.env; variables already
 * set win. Only commands that talk to the real API and database read it.
 */
export function loadDotEnv(): void {
  if (existsSync(".env")) process.loadEnvFile(".env");
}

/** Data-center codes of the regional Graph hosts, `https://graph-<code>.avepointonlineservices.com`. */
export const DATA_CENTER_CODES = [
  "au",
  "ca",
  "de",
  "us",
  "fr",
  "jp",
  "kr",
  "ne",
  "sg",
  "ch",
  "uk",
  "we",
] as const;

const COMMERCIAL = {
  apiUrl: "https://graph.avepointonlineservices.com",
  identityUrl: "https://identity.avepointonlineservices.com",
};
const GOVERNMENT = {
  apiUrl: "https://graph-gov.avepointonlineservices.com",
  identityUrl: "https://identity-gov.avepointonlineservices.com",
};

export type Credentials =
  | { kind: "secret"; clientSecret: string }
  | { kind: "certificate"; certificatePath: string; passphrase: string | undefined };

export interface ElementsConfig {
  apiUrl: string;
  identityUrl: string;
  clientId: string;
  credentials: Credentials;
  scope: string;
  pageSize: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Upper bound on the time one request may spend retrying. */
  maxRetryTimeMs: number;
  /** Pages fetched at the same time after page 1. */
  concurrency: number;
  /** A response body larger than this fails the request (a broken or hostile server). */
  maxResponseBytes: number;
}

/** 50 MiB: a page of 100 customers is tens of kilobytes. */
export const DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024;

/** What a run may conclude from the data it fetched. */
export interface RemovalPolicy {
  /**
   * A complete run that would mark more than this fraction of the present customers removed
   * removes none and records a warning instead (0 to 1; 1 turns the guard off).
   */
  maxRemovalFraction: number;
}

export const DEFAULT_MAX_REMOVAL_FRACTION = 0.2;

/** Pages in flight at once unless ELEMENTS_CONCURRENCY says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

/** How `elements-sync start` schedules runs and serves operators. */
export interface WorkerConfig {
  /** node-cron expression: five fields, or six with seconds first. */
  cron: string;
  /** IANA time zone the expression is read in. */
  timezone: string;
  /** Also run once when the worker starts. */
  runOnStart: boolean;
  /** Port of /healthz and /metrics; 0 turns the HTTP server off. */
  httpPort: number;
}

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function read<T>(
  env: Env,
  name: string,
  schema: z.ZodType<T>,
  expectation: string,
  secret = false,
): T {
  const raw = env[name];
  const result = schema.safeParse(raw === "" ? undefined : raw);
  if (result.success) return result.data;
  const shown =
    raw === undefined || raw === ""
      ? "it is not set"
      : secret
        ? "the value given is not"
        : `got "${raw}"`;
  throw new ConfigError(`${name} must be ${expectation}; ${shown}.`);
}

function hasCredentials(url: string): boolean {
  // An unparsable URL is z.url's to report.
  if (!URL.canParse(url)) return false;
  const { username, password } = new URL(url);
  return username !== "" || password !== "";
}

const httpUrl = z
  .url({ protocol: /^https?$/ })
  // Credentials in the URL would show up in every message that names the host.
  .refine((url) => !hasCredentials(url))
  .transform((url) => url.replace(/\/+$/, ""));
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export function readDatabaseUrl(env: Env): string {
  return read(
    env,
    "DATABASE_URL",
    z.url({ protocol: /^postgres(ql)?$/ }),
    "a PostgreSQL URL such as postgresql://user:password@host:5432/database",
    true,
  );
}

/** How long a database connection may stay silent; see DatabaseOptions in db.ts. */
export function readDatabaseTimeout(env: Env): { queryTimeoutMs: number } {
  return {
    queryTimeoutMs: read(
      env,
      "DATABASE_QUERY_TIMEOUT_MS",
      integer(1000, 86_400_000).default(600_000),
      "a number of milliseconds from 1000 to 86400000",
    ),
  };
}

export function readLogLevel(env: Env): LogLevel {
  return read(
    env,
    "LOG_LEVEL",
    z.enum(LOG_LEVELS).default("info"),
    `one of ${LOG_LEVELS.join(", ")}`,
  );
}

/** An optional API or identity URL; one that may hold credentials is not echoed. */
function readUrl(env: Env, name: string): string | undefined {
  const mayHoldCredentials = env[name]?.includes("@") ?? false;
  return read(
    env,
    name,
    httpUrl.optional(),
    "an http(s) URL without a user name or password",
    mayHoldCredentials,
  );
}

/** The Graph and identity hosts for ELEMENTS_REGION, unless ELEMENTS_API_URL / ELEMENTS_IDENTITY_URL override them. */
export function resolveHosts(env: Env): { apiUrl: string; identityUrl: string } {
  const region = read(
    env,
    "ELEMENTS_REGION",
    z.enum(["commercial", "gov", ...DATA_CENTER_CODES]).default("commercial"),
    `"commercial" (the default), "gov" or a data-center code (${DATA_CENTER_CODES.join(", ")})`,
  );
  const regional =
    region === "commercial"
      ? COMMERCIAL
      : region === "gov"
        ? GOVERNMENT
        : // Data centers have their own Graph host; tokens come from the commercial identity service.
          { ...COMMERCIAL, apiUrl: `https://graph-${region}.avepointonlineservices.com` };
  return {
    apiUrl: readUrl(env, "ELEMENTS_API_URL") ?? regional.apiUrl,
    identityUrl: readUrl(env, "ELEMENTS_IDENTITY_URL") ?? regional.identityUrl,
  };
}

function readCredentials(env: Env): Credentials {
  const secret = env.ELEMENTS_CLIENT_SECRET || undefined;
  const certificatePath = env.ELEMENTS_CERTIFICATE_PATH || undefined;
  if (secret !== undefined && certificatePath !== undefined) {
    throw new ConfigError(
      "Set either ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH, not both.",
    );
  }
  if (certificatePath !== undefined) {
    return {
      kind: "certificate",
      certificatePath,
      passphrase: env.ELEMENTS_CERTIFICATE_PASSPHRASE || undefined,
    };
  }
  if (secret !== undefined) return { kind: "secret", clientSecret: secret };
  throw new ConfigError(
    "ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH must be set: the app registration's client secret, or a PEM file with its certificate and private key.",
  );
}

export function readElementsConfig(env: Env): ElementsConfig {
  return {
    ...resolveHosts(env),
    clientId: read(
      env,
      "ELEMENTS_CLIENT_ID",
      z.string().trim().min(1),
      "the app registration's client (application) id",
    ),
    credentials: readCredentials(env),
    scope: read(
      env,
      "ELEMENTS_SCOPE",
      z.string().trim().min(1).default(CUSTOMERS_PERMISSION),
      "a non-empty scope",
    ),
    pageSize: read(
      env,
      "ELEMENTS_PAGE_SIZE",
      integer(1, 1000).default(100),
      "an integer from 1 to 1000 (the API documents 100 as its maximum)",
    ),
    timeoutMs: read(
      env,
      "ELEMENTS_TIMEOUT_MS",
      integer(100, 600_000).default(30_000),
      "a number of milliseconds from 100 to 600000",
    ),
    maxAttempts: read(
      env,
      "ELEMENTS_MAX_ATTEMPTS",
      integer(1, 20).default(6),
      "an integer from 1 to 20",
    ),
    maxRetryTimeMs: read(
      env,
      "ELEMENTS_MAX_RETRY_TIME_MS",
      integer(0, 3_600_000).default(300_000),
      "a number of milliseconds from 0 to 3600000",
    ),
    concurrency: read(
      env,
      "ELEMENTS_CONCURRENCY",
      integer(1, 32).default(DEFAULT_CONCURRENCY),
      "an integer from 1 to 32 (pages fetched at the same time)",
    ),
    maxResponseBytes: read(
      env,
      "ELEMENTS_MAX_RESPONSE_BYTES",
      integer(1024, 2 ** 31 - 1).default(DEFAULT_MAX_RESPONSE_BYTES),
      "a number of bytes from 1024 to 2147483647",
    ),
  };
}

export function readRemovalPolicy(env: Env): RemovalPolicy {
  return {
    maxRemovalFraction: read(
      env,
      "MAX_REMOVAL_FRACTION",
      z.coerce.number().min(0).max(1).default(DEFAULT_MAX_REMOVAL_FRACTION),
      "a fraction from 0 to 1 such as 0.2 (1 turns the mass-removal guard off)",
    ),
  };
}

export function readLogFormat(env: Env): LogFormat {
  return read(
    env,
    "LOG_FORMAT",
    z.enum(LOG_FORMATS).default("json"),
    `"json" (the default) or "pretty"`,
  );
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function readWorkerConfig(env: Env): WorkerConfig {
  return {
    cron: read(
      env,
      "SYNC_CRON",
      z.string().trim().default("0 2 * * *").refine(isValidCron),
      'a cron expression such as "0 2 * * *" (minute hour day month weekday, optionally seconds first)',
    ),
    timezone: read(
      env,
      "SYNC_TIMEZONE",
      z.string().trim().default("UTC").refine(isTimeZone),
      'an IANA time zone such as "UTC" or "Europe/Berlin"',
    ),
    runOnStart: read(
      env,
      "SYNC_ON_START",
      z
        .enum(["true", "false", "1", "0"])
        .default("false")
        .transform((value) => value === "true" || value === "1"),
      '"true" or "false"',
    ),
    httpPort: read(
      env,
      "HTTP_PORT",
      integer(0, 65_535).default(9464),
      "a port number from 1 to 65535, or 0 to turn the HTTP server off",
    ),
  };
}
