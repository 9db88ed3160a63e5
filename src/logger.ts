// pino JSON logs on stderr (stdout carries command output), or human-readable lines with
// LOG_FORMAT=pretty. Known secret-bearing keys are redacted as a second line of defence:
// the code never logs credentials on purpose.
import { pino, type Logger } from "pino";
import pinoPretty from "pino-pretty";

export type { Logger };

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL and LOG_FORMAT. */
export interface LoggingConfig {
  level: LogLevel;
  format: LogFormat;
}

export const REDACTED_KEYS = [
  "clientSecret",
  "client_secret",
  "client_assertion",
  "access_token",
  "accessToken",
  "authorization",
  "Authorization",
  "password",
  "passphrase",
  "privateKey",
  "databaseUrl",
  "connectionString",
  "token",
  "refresh_token",
  "id_token",
  "secret",
  "cookie",
];

export function createLogger(
  level: LogLevel,
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino(
    {
      level,
      base: { service: "elements-sync" },
      redact: { paths: REDACTED_KEYS.flatMap((key) => [key, `*.${key}`]), censor: "[redacted]" },
    },
    destination,
  );
}

/**
 * Where log lines go: stderr as JSON, or through pino-pretty in the same process (no
 * worker thread, so nothing is lost when the process exits right after logging).
 */
export function logDestination(format: LogFormat): pino.DestinationStream {
  if (format === "json") return pino.destination(2);
  return pinoPretty({
    destination: 2,
    sync: true,
    colorize: process.stderr.isTTY,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
}

/** The logger LOG_LEVEL and LOG_FORMAT ask for. */
export function loggerFor(config: LoggingConfig): Logger {
  return createLogger(config.level, logDestination(config.format));
}
