// Progress of a manual `sync` for people watching a terminal: one line on stderr, redrawn
// in place, with pages fetched of planned, rate and time left. Nothing in a pipe or CI. Log
// lines on the same stderr are written above it: it is cleared before each, redrawn after.
import type { BottomLine } from "../logger.ts";
import type { PageProgress } from "../sync/fetch.ts";

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressDisplay {
  update: (progress: PageProgress) => void;
  /** Clears the line before the summary is printed. */
  finish: () => void;
}

/** Redraws at most this often; the last page always shows. */
const REDRAW_MS = 100;
const CLEAR_LINE = "\r\x1b[2K";

/** What the log lines write through: the line steps aside for each (logger.ts's STDERR). */
export interface LogLines {
  keepAtBottom(line: BottomLine): () => void;
}

export function createProgressDisplay(
  stream: ProgressStream,
  env: Readonly<Record<string, string | undefined>>,
  now: () => number = () => performance.now(),
  logs?: LogLines,
): ProgressDisplay | undefined {
  if (stream.isTTY !== true || (env.CI ?? "") !== "" || env.TERM === "dumb") return undefined;
  const started = now();
  let lastDrawn = Number.NEGATIVE_INFINITY;
  /** The line on screen, if one is. */
  let shown: string | undefined;
  const bottom: BottomLine = {
    clear() {
      if (shown !== undefined) stream.write(CLEAR_LINE);
    },
    redraw() {
      if (shown !== undefined) stream.write(CLEAR_LINE + shown);
    },
  };
  const release = logs?.keepAtBottom(bottom);
  return {
    update(progress) {
      const at = now();
      const last = progress.pagesFetched >= progress.pagesPlanned;
      if (!last && at - lastDrawn < REDRAW_MS) return;
      lastDrawn = at;
      shown = formatProgress(progress, at - started);
      stream.write(CLEAR_LINE + shown);
    },
    finish() {
      if (shown !== undefined) stream.write(CLEAR_LINE);
      shown = undefined;
      release?.();
    },
  };
}

export function formatProgress(progress: PageProgress, elapsedMs: number): string {
  const { pagesFetched, pagesPlanned } = progress;
  const percent = pagesPlanned > 0 ? Math.floor((100 * pagesFetched) / pagesPlanned) : 0;
  const perSecond = elapsedMs > 0 ? (pagesFetched * 1000) / elapsedMs : 0;
  const left = Math.max(0, pagesPlanned - pagesFetched);
  const eta = perSecond > 0 ? ` · ETA ${duration(left / perSecond)}` : "";
  const rejected = progress.rejectedRecords > 0 ? ` · ${progress.rejectedRecords} rejected` : "";
  return (
    `run ${progress.runId}: page ${pagesFetched}/${pagesPlanned} (${percent}%)` +
    ` · ${perSecond.toFixed(1)} pages/s${eta}${rejected}`
  );
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
