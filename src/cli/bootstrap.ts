// The start-up `sync`, `start` and `demo` share, in two steps. configure() reads the
// environment and the configuration and makes the logger: nothing is opened yet, so a bad
// variable fails before any write. openApp() then opens, in this order, the shutdown signals,
// the database, the Elements client, the migrations and the notifier, and returns them;
// App.close() closes what it opened, and what the command handed it with defer(), in reverse
// order, in one place.
import { loadDotEnv, readConfig, type ConcernName, type Config, type Env } from "../config.ts";
import { openDatabase, type Database, type DatabaseOptions } from "../db.ts";
import type { ClientEvents, ElementsClient } from "../elements/client.ts";
import {
  createElementsClientFromConfig,
  type ClientTuning,
  type ElementsConfig,
} from "../elements/from-config.ts";
import { loggerFor, type Logger, type LogLevel } from "../logger.ts";
import { migrate } from "../migrations.ts";
import {
  createRunNotifier,
  type NotificationResult,
  type NotifyConfig,
  type RunNotifier,
} from "../notify/notifier.ts";
import type { SyncOptions } from "../sync/sync.ts";
import { handleShutdownSignals } from "../worker/shutdown.ts";

/** The concerns of a command that syncs against the real API and database; `start` adds `worker`. */
export const SYNC_CONCERNS = [
  "database",
  "databaseTimeout",
  "elements",
  "resources",
  "removals",
  "runLimits",
  "logging",
  "notify",
] as const;

export interface Configured<K extends ConcernName> {
  /** The environment as read, `.env` included when it was. */
  env: Env;
  config: Pick<Config, K>;
  log: Logger;
}

export interface ConfigureOptions {
  /**
   * Read `.env` in the working directory first (variables already set win). The demo does
   * not: a DATABASE_URL there is the operator's real database, never the demo's.
   */
  dotEnv?: boolean;
  /** The level when LOG_LEVEL is unset, for a command whose output is its printout. */
  quietLogLevel?: LogLevel;
}

/** Throws one ConfigError naming every bad variable of `concerns`. */
export function configure<K extends ConcernName>(
  concerns: readonly (K | "logging")[],
  { dotEnv = true, quietLogLevel }: ConfigureOptions = {},
): Configured<K | "logging"> {
  const env = process.env;
  if (dotEnv) loadDotEnv();
  const config = readConfig(env, concerns);
  const { logging } = config;
  const level = quietLogLevel !== undefined && !env.LOG_LEVEL ? quietLogLevel : logging.level;
  return { env, config, log: loggerFor({ ...logging, level }) };
}

/** What a run takes from the configuration, compiled once for every run of the process. */
export type RunDefaults = Required<
  Pick<
    SyncOptions,
    "pageSize" | "concurrency" | "maxRemovalFraction" | "maxDurationMs" | "resources"
  >
> &
  Pick<SyncOptions, "jobsForStatus">;

export function runDefaults(
  config: Pick<Config, "elements" | "resources" | "removals" | "runLimits">,
): RunDefaults {
  return {
    pageSize: config.elements.pageSize,
    concurrency: config.elements.concurrency,
    maxRemovalFraction: config.removals.maxRemovalFraction,
    maxDurationMs: config.runLimits.maxDurationMs,
    resources: config.resources.resources,
    jobsForStatus: config.resources.jobsForStatus,
  };
}

/** Told of the client's requests and the notifier's deliveries (the worker's metrics). */
export interface Instruments {
  readonly clientEvents?: ClientEvents;
  recordNotification?(result: NotificationResult): void;
}

export interface AppPlan<I extends Instruments> {
  log: Logger;
  /** DATABASE_URL, or the database the demo chose. */
  database: { url: string };
  databaseTimeout?: DatabaseOptions;
  elements: ElementsConfig;
  /** Undefined: no notifications. */
  notify: NotifyConfig | undefined;
  /** Apply pending migrations first (off with --no-migrate). */
  migrate: boolean;
  /**
   * Stop cleanly on SIGTERM or Ctrl-C: App.signal aborts, a run in progress is recorded
   * failed, "interrupted". Off for the demo, which is stopped like any foreground program.
   */
  signals: boolean;
  /** The first retry's delay; the demo shortens it. */
  retryDelayMs?: number;
  /**
   * What the command opened before start-up that App.close() closes after the rest, last
   * first (the demo's simulator and data directory), also when start-up fails.
   */
  closeAfter?: readonly (() => unknown)[];
  /** Made once the database is open, before the client and the notifier that report to it. */
  instrument?: (db: Database) => I;
}

export interface App<I extends Instruments> {
  log: Logger;
  db: Database;
  client: ElementsClient;
  notifier: RunNotifier;
  /** What `instrument` made. */
  instruments: I;
  /** Aborted by the first SIGTERM or SIGINT (never, without `signals`). */
  signal: AbortSignal;
  /** Has App.close() run `close` too, before it closes what start-up opened. */
  defer(close: () => unknown): void;
  /** Closes everything, last opened first; every step runs even if one fails. */
  close(): Promise<void>;
}

export async function openApp<I extends Instruments = Instruments>(
  plan: AppPlan<I>,
): Promise<App<I>> {
  const { log } = plan;
  const closers: (() => unknown)[] = [...(plan.closeAfter ?? [])];
  const close = async () => {
    let failure: { error: unknown } | undefined;
    for (const closer of closers.splice(0).reverse()) {
      try {
        await closer();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };
  try {
    let signal = new AbortController().signal;
    if (plan.signals) {
      const shutdown = handleShutdownSignals(log);
      closers.push(() => {
        shutdown.dispose();
      });
      signal = shutdown.signal;
    }
    const db = openDatabase(plan.database.url, plan.databaseTimeout);
    closers.push(() => db.close());
    // Without `instrument`, I is its default, Instruments, whose members are all optional.
    const instruments = plan.instrument?.(db) ?? ({} as I);
    const client = createElementsClientFromConfig(plan.elements, log, {
      retryDelayMs: plan.retryDelayMs,
      events: instruments.clientEvents,
    } satisfies ClientTuning);
    if (plan.migrate) await migrate(db.pool, { log });
    const notifier = createRunNotifier({
      config: plan.notify,
      pool: db.pool,
      log,
      ...(instruments.recordNotification
        ? { onResult: (result: NotificationResult) => instruments.recordNotification?.(result) }
        : {}),
    });
    return {
      log,
      db,
      client,
      notifier,
      instruments,
      signal,
      defer: (closer) => closers.push(closer),
      close,
    };
  } catch (error) {
    // What failed is the news; a failure to close after it is not.
    await close().catch(() => undefined);
    throw error;
  }
}
