// Rendering rows for people (aligned columns) and for scripts (CSV, JSON).

export type Cell = string | number | boolean | null;

export interface Table {
  headers: string[];
  rows: Cell[][];
  /** Columns to right-align (numbers). */
  numeric?: ReadonlySet<number>;
  /** False: no rule under the headers (`status` prints its table under a header of its own). */
  rule?: boolean;
}

function text(cell: Cell): string {
  return cell === null ? "" : String(cell);
}

/** Columns padded to their widest cell, two spaces apart, with a rule under the headers unless `rule` is false. */
export function formatTable(table: Table): string {
  const cells = [table.headers, ...table.rows.map((row) => row.map(text))];
  const widths = table.headers.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? "").length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return table.numeric?.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const rule = table.rule === false ? [] : [widths.map((width) => "-".repeat(width)).join("  ")];
  return [line(table.headers), ...rule, ...cells.slice(1).map(line)].join("\n");
}

/** "12.3 s" under a minute, else "4 min 7 s". */
export function formatDuration(ms: number): string {
  // Round once, then split: 59.96 s is "1 min 0 s", never "60.0 s".
  const tenths = Math.round(ms / 100);
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
