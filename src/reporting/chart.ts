// `report trend --html`: one self-contained HTML file, a stacked bar chart of customers per
// job status per day (inline SVG) and the latest changes under it. No script, no fonts or
// styles from elsewhere, and a Content-Security-Policy that forbids fetching anything.
import { plural } from "./format.ts";
import type { ChangeRow, DailyRow } from "../sql/reporting.ts";
import { changesForPeople, statusesInUse } from "./reports.ts";

export interface TrendPage {
  daily: readonly DailyRow[];
  changes: readonly ChangeRow[];
  timeZone: string;
  /** ISO timestamp shown as "generated at". */
  generatedAt: string;
}

const FAILED = 2;

/**
 * Colours of the documented job statuses, from Okabe and Ito's and Paul Tol's palettes for
 * colour-blind readers: every pair stays apart in simulated deuteranopia, protanopia and
 * tritanopia (test/report-chart.test.ts measures it), and Failed, vermillion, most of all.
 * Working is blue, not green, so it never sits as green next to red.
 */
export const JOB_STATUS_COLORS: ReadonlyMap<number, string> = new Map([
  [0, "#999999"], // N/A: grey
  [1, "#0072b2"], // Working: blue
  [FAILED, "#d55e00"], // Failed: vermillion
  [3, "#f0e442"], // Waiting for Configuration: yellow
  [4, "#332288"], // Multiple Issues Found: indigo
  [5, "#882255"], // Finished with Exception: wine
  [6, "#88ccee"], // No Backup Update: light blue
]);

/** Codes this version does not know are drawn hollow, in outline: unlike any colour above. */
export const UNKNOWN_FILL = "#ffffff";
const UNKNOWN_OUTLINE = "#757575";

/**
 * Bottom to top of each bar, and left to right in the legend: Failed on the axis, where its
 * count reads directly, then the other problems, and Working at the top.
 */
const STACK_ORDER = [FAILED, 4, 5, 6, 3, 0, 1];

function stackRank(code: number): number {
  const rank = STACK_ORDER.indexOf(code);
  return rank < 0 ? STACK_ORDER.length : rank;
}

function stackedStatuses(daily: readonly DailyRow[]): { code: number; label: string }[] {
  return statusesInUse(daily).sort((a, b) => stackRank(a.code) - stackRank(b.code));
}

/** The fill of a status's segments, and their outline: white between segments, grey around hollow ones. */
function paintOf(code: number, separate: boolean): string {
  const color = JOB_STATUS_COLORS.get(code);
  if (color === undefined)
    return `fill="${UNKNOWN_FILL}" stroke="${UNKNOWN_OUTLINE}" stroke-width="1"`;
  return separate ? `fill="${color}" stroke="#fff" stroke-width="1"` : `fill="${color}"`;
}

function escape(value: string | number): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/**
 * The y-axis for counts up to `max`: the smallest whole round step (1, 2, 2.5 or 5 times a
 * power of ten) that needs at most six steps, topped at its first multiple at or above `max`
 * (517 customers: steps of 100 up to 600), so the bars fill most of the plot.
 */
function countAxis(max: number): { top: number; step: number } {
  for (let power = 1; ; power *= 10) {
    for (const factor of [1, 2, 2.5, 5]) {
      const step = factor * power;
      if (!Number.isInteger(step)) continue;
      const intervals = Math.max(1, Math.ceil(max / step));
      if (intervals <= 6) return { top: intervals * step, step };
    }
  }
}

const COUNT = new Intl.NumberFormat("en-US");

// viewBox units. On a wide screen one unit is about one pixel; a phone shows the chart at
// about 0.4 of that, so the stylesheet doubles the text there (and hides every other day).
const WIDTH = 960;
const HEIGHT = 420;
const MARGIN = { top: 44, right: 12, bottom: 64, left: 96 };

function renderChart(daily: readonly DailyRow[]): string {
  const statuses = stackedStatuses(daily);
  const days = [...new Set(daily.map((row) => row.day))];
  const count = new Map(daily.map((row) => [`${row.day} ${row.job_status}`, row.customers]));
  const totals = days.map((day) =>
    statuses.reduce((sum, status) => sum + (count.get(`${day} ${status.code}`) ?? 0), 0),
  );
  const axis = countAxis(Math.max(0, ...totals));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const plotBottom = MARGIN.top + plotHeight;
  const slot = plotWidth / Math.max(days.length, 1);
  const barWidth = Math.max(1, slot * 0.8);
  // Lines between a bar's segments, where bars are wide enough to spare them.
  const separate = barWidth >= 6;
  const y = (value: number) => plotBottom - (value / axis.top) * plotHeight;

  const ticks = Array.from({ length: axis.top / axis.step + 1 }, (_, n) => n * axis.step);
  const grid = ticks.map(
    (value) =>
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(value)}" y2="${y(value)}"/>` +
      `<text class="y-label" x="${MARGIN.left - 8}" y="${y(value)}" text-anchor="end" dominant-baseline="middle" data-value="${value}">${COUNT.format(value)}</text>`,
  );
  const labelEvery = Math.ceil(days.length / 12);
  const bars = days.map((day, index) => {
    const x = MARGIN.left + index * slot + (slot - barWidth) / 2;
    let base = 0;
    const rects = statuses.flatMap((status) => {
      const customers = count.get(`${day} ${status.code}`) ?? 0;
      if (customers === 0) return [];
      const top = y(base + customers);
      const rect =
        `<rect x="${x.toFixed(2)}" y="${top.toFixed(2)}" width="${barWidth.toFixed(2)}" ` +
        `height="${(y(base) - top).toFixed(2)}" ${paintOf(status.code, separate)} ` +
        `data-status="${status.code}" data-label="${escape(status.label)}" data-count="${customers}">` +
        `<title>${escape(day)}: ${escape(status.label)} ${customers}</title></rect>`;
      base += customers;
      return [rect];
    });
    const minor = index % (2 * labelEvery) !== 0 ? " minor" : "";
    const label =
      index % labelEvery === 0
        ? `<text class="x-label${minor}" x="${(x + barWidth / 2).toFixed(2)}" y="${plotBottom + 8}" text-anchor="middle" dominant-baseline="hanging">${escape(day.slice(5))}</text>`
        : "";
    return `<g class="day" data-day="${escape(day)}" data-total="${totals[index] ?? 0}">${rects.join("")}${label}</g>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Customers per job status per day">`,
    ...grid,
    ...bars,
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotBottom}" y2="${plotBottom}"/>`,
    `<text class="axis-title y-title" x="0" y="${MARGIN.top - 16}">customers</text>`,
    `<text class="axis-title x-title" x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 4}" text-anchor="middle">day (${escape(days[0] ?? "")} to ${escape(days.at(-1) ?? "")})</text>`,
    "</svg>",
  ].join("\n");
}

function renderLegend(daily: readonly DailyRow[]): string {
  const lastDay = daily.at(-1)?.day;
  const latest = new Map(
    daily.filter((row) => row.day === lastDay).map((row) => [row.job_status, row.customers]),
  );
  const items = stackedStatuses(daily).map((status) => {
    const color = JOB_STATUS_COLORS.get(status.code);
    const swatch =
      color === undefined ? `${UNKNOWN_FILL}; border: 1px solid ${UNKNOWN_OUTLINE}` : color;
    const failed = status.code === FAILED ? ` class="failed"` : "";
    return (
      `<li data-status="${status.code}"${failed}><span class="swatch" style="background:${swatch}"></span>` +
      `${escape(status.label)} <span class="count">${latest.get(status.code) ?? 0}</span></li>`
    );
  });
  return `<ul class="legend">${items.join("")}</ul>`;
}

/** A change that moved a customer into Failed: what a reader of this page looks for first. */
function intoFailed(change: ChangeRow | undefined): boolean {
  return change?.job_status === FAILED && change.job_status_changed;
}

function renderChanges(changes: readonly ChangeRow[]): string {
  if (changes.length === 0) return `<p class="empty">No changes in this period.</p>`;
  const table = changesForPeople(changes);
  const statusColumn = table.headers.indexOf("job status");
  const head = table.headers.map((header) => `<th>${escape(header)}</th>`).join("");
  const body = table.rows
    .map((row, index) => {
      const change = changes[index];
      const highlight = intoFailed(change) ? ` class="into-failed"` : "";
      return (
        `<tr data-kind="${escape(change?.change_kind ?? "")}"${highlight}>` +
        row
          .map((cell, column) => {
            const status = column === statusColumn ? ` class="job-status"` : "";
            return `<td${status}>${escape(cell === null ? "" : String(cell))}</td>`;
          })
          .join("") +
        "</tr>"
      );
    })
    .join("\n");
  return (
    `<p class="hint">Changes into Failed are marked <span class="into-failed-sample">like this</span>.</p>\n` +
    `<div class="scroll"><table class="changes"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`
  );
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.meta, .hint { color: #616161; margin: 0 0 12px; }
svg { width: 100%; max-width: 1100px; height: auto; display: block; }
svg .grid { stroke: #e0e0e0; }
svg .axis { stroke: #616161; }
svg text { font-size: 13px; fill: #424242; }
svg .axis-title { font-size: 14px; fill: #212121; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 8px 20px; }
.legend .swatch { display: inline-block; box-sizing: border-box; width: 14px; height: 14px; margin-right: 6px; vertical-align: -2px; }
.legend .count { color: #616161; }
.legend .failed { font-weight: 700; }
.scroll { overflow-x: auto; }
table.changes { border-collapse: collapse; }
table.changes th, table.changes td { text-align: left; padding: 4px 12px 4px 6px; border-bottom: 1px solid #eee; }
table.changes td:first-child { white-space: nowrap; }
tr.into-failed, .into-failed-sample { background: #fbe3d6; }
tr.into-failed td.job-status { font-weight: 700; }
tr.into-failed td:first-child { box-shadow: inset 4px 0 #d55e00; }
.into-failed-sample { padding: 0 4px; border-left: 4px solid #d55e00; font-weight: 600; color: #212121; }
@media (max-width: 640px) {
  body { margin: 12px; }
  svg text { font-size: 26px; }
  svg .axis-title { font-size: 26px; }
  svg .x-label.minor { display: none; }
}
`;

export function renderTrendHtml(page: TrendPage): string {
  const days = [...new Set(page.daily.map((row) => row.day))];
  const chart =
    days.length === 0
      ? `<p class="empty">No successful run yet: nothing to chart.</p>`
      : `${renderChart(page.daily)}\n${renderLegend(page.daily)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Customers per job status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Customers per job status</h1>
<p class="meta">At the end of each day (${escape(page.timeZone)}), ${plural(days.length, "day")}. Generated ${escape(page.generatedAt)} by elements-sync.</p>
${chart}
<h2>Latest changes</h2>
${renderChanges(page.changes)}
</body>
</html>
`;
}
