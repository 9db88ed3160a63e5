// Rendering rows for people (aligned columns) and for scripts (CSV, JSON).
import stringWidth from "string-width";

export type Cell = string | number | boolean | null;

export interface Table {
  headers: string[];
  rows: Cell[][];
  /** Columns to right-align (numbers). */
  numeric?: ReadonlySet<number>;
  /** False: no rule under the headers (`status` prints its table under a header of its own). */
  rule?: boolean;
  /**
   * Text too long for a column, per row ("" or [] for none), each shown on a line of its own
   * under its row.
   */
  notes?: readonly (string | readonly string[])[];
  /** Notes longer than the lines may be, in terminal columns, end in "…"; whole when absent. */
  width?: number;
}

function text(cell: Cell): string {
  return cell === null ? "" : String(cell);
}

/**
 * Characters that would break a table's lines or reorder what follows them: C0 controls (tab,
 * newline, escape…), DEL, C1 controls, line and paragraph separators, and the bidirectional
 * embeddings, overrides and isolates (and the marks that steer them).
 */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}]/gu;

const NAMED_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeControl(character: string): string {
  const named = NAMED_ESCAPES[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Text for a table cell: control characters shown as escapes (`\n`, `\t`, `\x1b`, `\u202e`), so a
 * name holding a line break stays on its line and one holding a terminal escape or a
 * right-to-left override cannot repaint or reorder the table. CSV and JSON keep the text exact.
 */
export function escapeControls(value: string): string {
  return value.replace(CONTROL, escapeControl);
}

function cellText(cell: Cell): string {
  return escapeControls(text(cell));
}

/** Each column's width: its widest cell, in terminal columns. */
function columnWidths(table: Table): number[] {
  const cells = [table.headers.map(escapeControls), ...table.rows.map((row) => row.map(cellText))];
  return table.headers.map((_, column) =>
    Math.max(...cells.map((row) => displayWidth(row[column] ?? ""))),
  );
}

/** Spaces between two columns. */
const GAP = "  ";

export interface TableText {
  text: string;
  /** How many notes were cut to fit `width`. */
  cutNotes: number;
}

/**
 * Columns padded to their widest cell, two spaces apart, with a rule under the headers unless
 * `rule` is false; each note on a line of its own under its row, from the second column on.
 */
export function layoutTable(table: Table): TableText {
  const widths = columnWidths(table);
  const line = (row: string[]) =>
    row
      .map((cell, column) => {
        const padding = " ".repeat(Math.max(0, (widths[column] ?? 0) - displayWidth(cell)));
        return table.numeric?.has(column) ? padding + cell : cell + padding;
      })
      .join(GAP)
      .trimEnd();
  const indent = " ".repeat((widths[0] ?? 0) + GAP.length);
  const room = table.width === undefined ? Infinity : table.width - indent.length;
  let cutNotes = 0;
  const noteLine = (raw: string): string[] => {
    const note = escapeControls(raw);
    if (note === "") return [];
    if (displayWidth(note) <= room) return [indent + note];
    cutNotes += 1;
    return [indent + shorten(note, room)];
  };
  const noteLines = (index: number): string[] => {
    const notes = table.notes?.[index] ?? "";
    return typeof notes === "string" ? noteLine(notes) : notes.flatMap(noteLine);
  };
  const rule = table.rule === false ? [] : [widths.map((width) => "-".repeat(width)).join(GAP)];
  const lines = [
    line(table.headers.map(escapeControls)),
    ...rule,
    ...table.rows.flatMap((row, index) => [line(row.map(cellText)), ...noteLines(index)]),
  ];
  return { text: lines.join("\n"), cutNotes };
}

export function formatTable(table: Table): string {
  return layoutTable(table).text;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Terminal columns `value` takes: two for a CJK character or an emoji, none for a combining
 * mark, so that names in Japanese or with accents line up like any other.
 */
export function displayWidth(value: string): number {
  return stringWidth(value);
}

/** `value` cut to `width` columns, its last one an ellipsis; characters are never split. */
function shorten(value: string, width: number): string {
  let kept = "";
  let used = 0;
  for (const { segment } of graphemes.segment(value)) {
    const next = displayWidth(segment);
    if (used + next > width - 1) break;
    kept += segment;
    used += next;
  }
  return `${kept}…`;
}

/** "1 day", "2 days": `noun` with an s unless there is one. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * Tenths of a second in `ms`, by the one rule every duration shown follows: to the
 * millisecond first (as reporting.sync_runs.duration_seconds holds it), then halves up. So a
 * run of 49.7 ms is 0.1 s in `status`, `report runs` and the summary alike.
 */
export function durationTenths(ms: number): number {
  return Math.round(Math.round(ms) / 100);
}

/** Seconds to one decimal, e.g. "0.1". */
export function formatSeconds(ms: number): string {
  return (durationTenths(ms) / 10).toFixed(1);
}

/** "12.3 s" under a minute, else "4 min 7 s". */
export function formatDuration(ms: number): string {
  // Round once, then split: 59.96 s is "1 min 0 s", never "60.0 s".
  const tenths = durationTenths(ms);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export interface CsvOptions {
  /** Cells exactly as they are, formula-like text included (for scripts, not spreadsheets). */
  raw?: boolean;
  /** Start with a UTF-8 byte-order mark, without which Excel reads UTF-8 as a legacy code page. */
  byteOrderMark?: boolean;
}

/**
 * What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection"): a text cell
 * beginning with one of these is evaluated when the file is opened, e.g.
 * `=HYPERLINK("http://evil","x")` as an organization name.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** Text a spreadsheet would evaluate, made plain text by a leading apostrophe. */
export function neutralizeFormula(cell: Cell): Cell {
  return typeof cell === "string" && FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/**
 * RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. Unless `raw`,
 * text cells that would start a formula are neutralized and quoted, as OWASP recommends;
 * numbers and booleans come from typed columns and never are.
 */
export function formatCsv(table: Table, options: CsvOptions = {}): string {
  const field = (cell: Cell) => {
    const safe = options.raw === true ? cell : neutralizeFormula(cell);
    const value = text(safe);
    return safe !== cell || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
  };
  const csv = [table.headers, ...table.rows].map((row) => row.map(field).join(",")).join("\r\n");
  return options.byteOrderMark === true ? `\uFEFF${csv}` : csv;
}

/** The rows as objects keyed by header, so JSON and CSV carry the same columns. */
export function tableObjects(table: Table): Record<string, Cell>[] {
  return table.rows.map((row) =>
    Object.fromEntries(table.headers.map((header, column) => [header, row[column] ?? null])),
  );
}
