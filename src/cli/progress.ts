// Progress of a manual `sync` for people watching a terminal: one line on stderr, redrawn
// in place, with pages fetched of planned, rate and time left. Nothing in a pipe or CI.
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

export function createProgressDisplay(
  stream: ProgressStream,
  env: Readonly<Record<string, string | undefined>>,
  now: () => number = () => performance.now(),
): ProgressDisplay | undefined {
  if (stream.isTTY !== true || (env.CI ?? "") !== "" || env.TERM === "dumb") return undefined;
  const started = now();
  let lastDrawn = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(progress) {
      const at = now();
      const last = progress.pagesFetched >= progress.pagesPlanned;
      if (!last && at - lastDrawn < REDRAW_MS) return;
      lastDrawn = at;
      drawn = true;
      stream.write(CLEAR_LINE + formatProgress(progress, at - started));
    },
    finish() {
      if (drawn) stream.write(CLEAR_LINE);
      drawn = false;
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
