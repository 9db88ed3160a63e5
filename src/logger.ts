// pino logs on stderr (stdout carries command output): human-readable lines on a terminal,
// JSON lines anywhere else (a pipe, a file, a container's log), or as LOG_FORMAT says. Known
// secret-bearing keys are redacted as a second line of defence: the code never logs
// credentials on purpose.
import { pino, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";

export type { Logger };

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
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

/**
 * A logger writing to `destination`, by default stderr written synchronously: a line logged
 * just before process.exit() is neither lost nor overtaken by a later one.
 */
export function createLogger(
  level: LogLevel,
  destination: pino.DestinationStream = pino.destination({ dest: 2, sync: true }),
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

/** "auto" is readable lines on a terminal, JSON lines where a program reads them. */
export function resolveLogFormat(format: LogFormat, isTerminal: boolean): "json" | "pretty" {
  if (format !== "auto") return format;
  return isTerminal ? "pretty" : "json";
}

/** A line redrawn in place at the bottom of the terminal: the progress line. */
export interface BottomLine {
  clear(): void;
  redraw(): void;
}

/**
 * Stderr, shared by log lines and a line redrawn under them. The bottom line steps aside
 * for each log line (cleared before, redrawn after), so neither is written onto the other.
 */
export class SharedStderr {
  #bottom: BottomLine | undefined;

  /** Keeps `line` under the log lines until the returned function is called. */
  keepAtBottom(line: BottomLine): () => void {
    this.#bottom = line;
    return () => {
      if (this.#bottom === line) this.#bottom = undefined;
    };
  }

  /** `destination`, with the bottom line stepping aside around each write. */
  around(destination: pino.DestinationStream): pino.DestinationStream {
    return {
      write: (text: string) => {
        const bottom = this.#bottom;
        bottom?.clear();
        destination.write(text);
        bottom?.redraw();
      },
    };
  }
}

/** This process's stderr: the logger and `sync`'s progress line share it. */
export const STDERR = new SharedStderr();

/**
 * Where log lines go: stderr, as JSON or through pino-pretty, both written synchronously in
 * this process (no worker thread: nothing is lost when the process exits right after
 * logging, and a log line is whole before the progress line is redrawn).
 */
export function logDestination(
  format: LogFormat,
  // Typed boolean, but undefined when stderr is not a terminal: falsy all the same.
  isTerminal: boolean = process.stderr.isTTY,
): pino.DestinationStream {
  const stderr = pino.destination({ dest: 2, sync: true });
  if (resolveLogFormat(format, isTerminal) === "json") return STDERR.around(stderr);
  const pretty = prettyFactory({
    colorize: isTerminal,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
  return STDERR.around({ write: (line: string) => stderr.write(pretty(line)) });
}

/** The logger LOG_LEVEL and LOG_FORMAT ask for. */
export function loggerFor(config: LoggingConfig): Logger {
  return createLogger(config.level, logDestination(config.format));
}
