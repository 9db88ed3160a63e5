// Configuration comes from the environment (and `.env`, loaded by the CLI), as data: one record
// of variables per concern, each declared once with its schema, what a message about it says
// and whether it is secret. A concern produces the options type of the module it configures
// (declared there, with its defaults): configuration imports modules, never the reverse. A
// command reads only the concerns it needs and learns of every bad variable at once
// (config-reader.ts).
import { existsSync } from "node:fs";
import { validate as isValidCron } from "node-cron";
import { z } from "zod";
import { elements, resources } from "./config-elements.ts";
import {
  concern,
  hasCredentials,
  integer,
  readConcerns,
  variable,
  type ConfigOf,
  type Env,
} from "./config-reader.ts";
import { DEFAULT_QUERY_TIMEOUT_MS } from "./db.ts";
import { LOG_FORMATS, LOG_LEVELS, type LoggingConfig } from "./logger.ts";
import { NOTIFY_FORMATS } from "./notify/format.ts";
import type { NotifyConfig } from "./notify/notifier.ts";
import { DEFAULT_NOTIFY_ON, parseTriggers } from "./notify/triggers.ts";
import { DEFAULT_MAX_REMOVAL_FRACTION, DEFAULT_MAX_RUN_MS } from "./sync/defaults.ts";
import type { WorkerConfig } from "./worker/worker.ts";

export type { Env };

/**
 * Adds the variables of `.env` in the working directory to process.env; variables already
 * set win. Only commands that talk to the real API and database read it.
 */
export function loadDotEnv(): void {
  if (existsSync(".env")) process.loadEnvFile(".env");
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const database = concern(
  {
    DATABASE_URL: variable(z.url({ protocol: /^postgres(ql)?$/ }), {
      expects: "a PostgreSQL URL such as postgresql://user:password@host:5432/database",
      secret: true,
      fromFile: true,
    }),
  },
  (values) => ({ url: values.DATABASE_URL }),
);

/** How long a database connection may stay silent; see DatabaseOptions in db.ts. */
const databaseTimeout = concern(
  {
    DATABASE_QUERY_TIMEOUT_MS: variable(
      integer(1000, 86_400_000).default(DEFAULT_QUERY_TIMEOUT_MS),
      {
        expects: "a number of milliseconds from 1000 to 86400000",
      },
    ),
  },
  (values) => ({ queryTimeoutMs: values.DATABASE_QUERY_TIMEOUT_MS }),
);

/** What a run may conclude from the data it fetched. */
const removals = concern(
  {
    MAX_REMOVAL_FRACTION: variable(
      z.coerce.number().min(0).max(1).default(DEFAULT_MAX_REMOVAL_FRACTION),
      { expects: "a fraction from 0 to 1 such as 0.2 (1 turns the mass-removal guard off)" },
    ),
  },
  (values) => ({
    /**
     * A complete run that would mark more than this fraction of the present customers removed
     * removes none and records a warning instead (0 to 1; 1 turns the guard off).
     */
    maxRemovalFraction: values.MAX_REMOVAL_FRACTION,
  }),
);

/** How long one run may take, whoever started it: past it, the run stops and fails. */
const runLimits = concern(
  {
    SYNC_MAX_DURATION_MS: variable(integer(1000, 604_800_000).default(DEFAULT_MAX_RUN_MS), {
      expects: "a number of milliseconds from 1000 to 604800000 (7 days)",
    }),
  },
  (values) => ({
    /**
     * A run still fetching or looking customers up after this long is stopped and recorded
     * failed, so its lock is freed for the next run; a merge already begun finishes.
     */
    maxDurationMs: values.SYNC_MAX_DURATION_MS,
  }),
);

const logging = concern(
  {
    LOG_LEVEL: variable(z.enum(LOG_LEVELS).default("info"), {
      expects: `one of ${LOG_LEVELS.join(", ")}`,
    }),
    LOG_FORMAT: variable(z.enum(LOG_FORMATS).default("auto"), {
      expects: `"auto" (the default: "pretty" on a terminal, else "json"), "json" or "pretty"`,
    }),
  },
  (values): LoggingConfig => ({ level: values.LOG_LEVEL, format: values.LOG_FORMAT }),
);

/** How `elements-sync start` schedules runs and serves operators. */
const worker = concern(
  {
    SYNC_CRON: variable(z.string().trim().default("0 2 * * *").refine(isValidCron), {
      expects:
        'a cron expression such as "0 2 * * *" (minute hour day month weekday, optionally seconds first)',
    }),
    SYNC_TIMEZONE: variable(z.string().trim().default("UTC").refine(isTimeZone), {
      expects: 'an IANA time zone such as "UTC" or "Europe/Berlin"',
    }),
    SYNC_ON_START: variable(
      z
        .enum(["true", "false", "1", "0"])
        .default("false")
        .transform((value) => value === "true" || value === "1"),
      { expects: '"true" or "false"' },
    ),
    HTTP_PORT: variable(integer(0, 65_535).default(9464), {
      expects: "a port number from 1 to 65535, or 0 to turn the HTTP server off",
    }),
    HTTP_HOST: variable(z.union([z.ipv4(), z.ipv6()]).optional(), {
      expects: "an IP address to listen on, such as 127.0.0.1 or ::1 (unset: every interface)",
    }),
  },
  (values): WorkerConfig => ({
    cron: values.SYNC_CRON,
    timezone: values.SYNC_TIMEZONE,
    runOnStart: values.SYNC_ON_START,
    httpPort: values.HTTP_PORT,
    httpHost: values.HTTP_HOST,
  }),
);

/** Run notifications: NOTIFY_WEBHOOK_URL is a secret (Slack and Teams put the credential in its path). */
const notify = concern(
  {
    NOTIFY_WEBHOOK_URL: variable(
      z
        .url({ protocol: /^https?$/ })
        // fetch() refuses a URL with credentials; say so before any run.
        .refine((url) => !hasCredentials(url))
        .optional(),
      {
        expects:
          "an http(s) URL without a user name or password, such as a Slack or Microsoft Teams incoming webhook",
        secret: true,
        fromFile: true,
      },
    ),
    // Checked by the rule below, which names the entry that is wrong.
    NOTIFY_ON: variable(z.string().default(DEFAULT_NOTIFY_ON), {
      expects:
        "a list of failed, warning, status:<job status>, job:failed and service:expiring:<days>",
    }),
    NOTIFY_FORMAT: variable(z.enum(NOTIFY_FORMATS).default("auto"), {
      expects: `one of ${NOTIFY_FORMATS.join(", ")}`,
    }),
  },
  (values): NotifyConfig | undefined => {
    const triggers = parseTriggers(values.NOTIFY_ON);
    if (values.NOTIFY_WEBHOOK_URL === undefined || typeof triggers === "string") return undefined;
    return { webhookUrl: values.NOTIFY_WEBHOOK_URL, triggers, format: values.NOTIFY_FORMAT };
  },
  [
    (raw) => {
      const triggers = parseTriggers(raw.NOTIFY_ON ?? DEFAULT_NOTIFY_ON);
      return typeof triggers === "string"
        ? { variable: "NOTIFY_ON", problem: triggers }
        : undefined;
    },
  ],
);

const CONCERNS = {
  database,
  databaseTimeout,
  elements,
  resources,
  removals,
  runLimits,
  logging,
  worker,
  notify,
};

/** Every variable any command reads, `<NAME>_FILE` ones included. */
export const CONFIG_VARIABLES: readonly string[] = Object.values(CONCERNS).flatMap(
  (one) => one.names,
);

export type ConcernName = keyof typeof CONCERNS;
export type Config = { [K in ConcernName]: ConfigOf<(typeof CONCERNS)[K]> };

/**
 * The configuration of the concerns a command needs. Throws one ConfigError naming every
 * bad variable of all of them; secret values are never part of it.
 */
export function readConfig<const K extends ConcernName>(
  env: Env,
  names: readonly K[],
): Pick<Config, K> {
  const wanted = Object.fromEntries(names.map((name) => [name, CONCERNS[name]]));
  // Config[K] is ConfigOf<(typeof CONCERNS)[K]>, which TypeScript cannot see through Pick.
  return readConcerns(env, wanted as Pick<typeof CONCERNS, K>) as Pick<Config, K>;
}

/** Undefined when NOTIFY_WEBHOOK_URL is unset. NOTIFY_ON is checked either way. */
export function readNotifyConfig(env: Env): NotifyConfig | undefined {
  return readConfig(env, ["notify"]).notify;
}

/**
 * DATABASE_URL as configured (set, or read from DATABASE_URL_FILE), for naming the database
 * in a message; undefined when it is not usable.
 */
export function configuredDatabaseUrl(env: Env): string | undefined {
  return database.read(env).config?.url;
}
