// `report trend --html`: one self-contained HTML file, a stacked bar chart of customers per
// job status per day (inline SVG) and the latest changes under it. No script, no fonts or
// styles from elsewhere, and a Content-Security-Policy that forbids fetching anything.
import type { ChangeRow, DailyRow } from "./queries.ts";
import { changesForPeople, statusesInUse } from "./reports.ts";

export interface TrendPage {
  daily: readonly DailyRow[];
  changes: readonly ChangeRow[];
  timeZone: string;
  /** ISO timestamp shown as "generated at". */
  generatedAt: string;
}

const COLORS: ReadonlyMap<number, string> = new Map([
  [0, "#9e9e9e"], // N/A
  [1, "#2e7d32"], // Working
  [2, "#c62828"], // Failed
  [3, "#f9a825"], // Waiting for Configuration
  [4, "#ef6c00"], // Multiple Issues Found
  [5, "#6a1b9a"], // Finished with Exception
  [6, "#1565c0"], // No Backup Update
]);
const UNKNOWN_COLORS = ["#4e342e", "#37474f", "#00838f", "#ad1457"];

function colorOf(code: number): string {
  return COLORS.get(code) ?? UNKNOWN_COLORS[Math.abs(code) % UNKNOWN_COLORS.length] ?? "#000";
}

function escape(value: string | number): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** A round axis maximum at or above `value`: 1, 2 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= value) ?? 10;
  return step * power;
}

const WIDTH = 960;
const HEIGHT = 340;
const MARGIN = { top: 12, right: 12, bottom: 40, left: 56 };

function renderChart(daily: readonly DailyRow[]): string {
  const statuses = statusesInUse(daily);
  const days = [...new Set(daily.map((row) => row.day))];
  const count = new Map(daily.map((row) => [`${row.day} ${row.job_status}`, row.customers]));
  const totals = days.map((day) =>
    statuses.reduce((sum, status) => sum + (count.get(`${day} ${status.code}`) ?? 0), 0),
  );
  const yMax = niceCeiling(Math.max(0, ...totals));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(days.length, 1);
  const barWidth = Math.max(1, slot * 0.8);
  const y = (value: number) => MARGIN.top + plotHeight - (value / yMax) * plotHeight;

  const grid = [0, 0.2, 0.4, 0.6, 0.8, 1].map((fraction) => {
    const exact = yMax * fraction;
    const value = Number.isInteger(exact) ? exact : Number(exact.toFixed(1));
    return (
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(value)}" y2="${y(value)}"/>` +
      `<text class="y-label" x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end">${value}</text>`
    );
  });
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
        `height="${(y(base) - top).toFixed(2)}" fill="${colorOf(status.code)}" ` +
        `data-status="${status.code}" data-label="${escape(status.label)}" data-count="${customers}">` +
        `<title>${escape(day)}: ${escape(status.label)} ${customers}</title></rect>`;
      base += customers;
      return [rect];
    });
    const label =
      index % labelEvery === 0
        ? `<text class="x-label" x="${(x + barWidth / 2).toFixed(2)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${escape(day.slice(5))}</text>`
        : "";
    return `<g class="day" data-day="${escape(day)}" data-total="${totals[index] ?? 0}">${rects.join("")}${label}</g>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Customers per job status per day">`,
    ...grid,
    ...bars,
    `<text class="axis-title" x="${MARGIN.left}" y="${HEIGHT - 4}">day (${escape(days[0] ?? "")} to ${escape(days.at(-1) ?? "")})</text>`,
    "</svg>",
  ].join("\n");
}

function renderLegend(daily: readonly DailyRow[]): string {
  const lastDay = daily.at(-1)?.day;
  const latest = new Map(
    daily.filter((row) => row.day === lastDay).map((row) => [row.job_status, row.customers]),
  );
  const items = statusesInUse(daily).map(
    (status) =>
      `<li data-status="${status.code}"><span class="swatch" style="background:${colorOf(status.code)}"></span>` +
      `${escape(status.label)} <span class="count">${latest.get(status.code) ?? 0}</span></li>`,
  );
  return `<ul class="legend">${items.join("")}</ul>`;
}

function renderChanges(changes: readonly ChangeRow[]): string {
  if (changes.length === 0) return `<p class="empty">No changes in this period.</p>`;
  const table = changesForPeople(changes);
  const head = table.headers.map((header) => `<th>${escape(header)}</th>`).join("");
  const body = table.rows
    .map(
      (row, index) =>
        `<tr data-kind="${escape(changes[index]?.change_kind ?? "")}">` +
        row.map((cell) => `<td>${escape(cell === null ? "" : String(cell))}</td>`).join("") +
        "</tr>",
    )
    .join("\n");
  return `<table class="changes"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #616161; margin: 0 0 12px; }
svg { width: 100%; max-width: 960px; height: auto; display: block; }
svg .grid { stroke: #e0e0e0; }
svg text { font-size: 11px; fill: #616161; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 16px; }
.legend .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
.legend .count { color: #616161; }
table.changes { border-collapse: collapse; }
table.changes th, table.changes td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #eee; }
table.changes td:first-child { white-space: nowrap; }
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
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Customers per job status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Customers per job status</h1>
<p class="meta">At the end of each day (${escape(page.timeZone)}), ${days.length} days. Generated ${escape(page.generatedAt)} by elements-sync.</p>
${chart}
<h2>Latest changes</h2>
${renderChanges(page.changes)}
</body>
</html>
`;
}
