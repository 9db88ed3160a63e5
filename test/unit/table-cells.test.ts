// Tables for people: a cell stays one cell on one line whatever text it holds, columns line up,
// notes under their rows are cut to the width asked for; CSV and JSON keep the text exact.
import { describe, expect, it } from "vitest";
import {
  escapeControls,
  formatCsv,
  formatTable,
  layoutTable,
  tableObjects,
  type Table,
} from "../../src/reporting/format.ts";

describe("escapeControls", () => {
  it.each([
    ["line\nbreak", "line\\nbreak"],
    ["tab\there", "tab\\there"],
    ["carriage\rreturn", "carriage\\rreturn"],
    ["\u0000nul \u0007bell \u0008backspace", "\\x00nul \\x07bell \\x08backspace"],
    ["\u001b[31mred\u001b[0m", "\\x1b[31mred\\x1b[0m"],
    ["delete\u007f", "delete\\x7f"],
    ["next line\u0085 csi\u009b", "next line\\x85 csi\\x9b"],
    ["line\u2028para\u2029", "line\\u2028para\\u2029"],
    ["\u202eevil\u202c", "\\u202eevil\\u202c"], // right-to-left override, pop
    ["\u2066isolate\u2069 \u200fmark\u061c", "\\u2066isolate\\u2069 \\u200fmark\\u061c"],
  ])("shows %j as %j", (raw, shown) => {
    expect(escapeControls(raw)).toBe(shown);
  });

  it.each([
    "Müller & Söhne GmbH",
    "株式会社サンプル",
    "שלום עולם", // right-to-left text itself is fine; only the controls that force order are not
    "family 👨‍👩‍👧 (zero-width joiners)",
    "back\\slash",
    "",
  ])("leaves %j as it is", (text) => {
    expect(escapeControls(text)).toBe(text);
  });
});

const hostile: Table = {
  headers: ["organization", "n"],
  numeric: new Set([1]),
  rows: [
    ["Line\nBreak Ltd", 1],
    ["Tab\tSeparated", 22],
    ["\u001b[2J\u001b[HCleared", 333],
    ["\u202edcba", null],
  ],
};

describe("formatTable", () => {
  it("keeps each row on one line, escaped, with the columns lined up", () => {
    expect(formatTable(hostile)).toBe(
      [
        "organization            n",
        "--------------------  ---",
        "Line\\nBreak Ltd         1",
        "Tab\\tSeparated         22",
        "\\x1b[2J\\x1b[HCleared  333",
        "\\u202edcba",
      ].join("\n"),
    );
  });

  it("lines up names that take two columns a character (CJK) or none (combining marks)", () => {
    expect(
      formatTable({
        headers: ["organization", "n"],
        numeric: new Set([1]),
        rows: [
          ["株式会社サンプル", 1],
          ["Müller & Söhne", 22],
          ["e\u0301cole", 3],
        ],
      }),
    ).toBe(
      [
        "organization       n",
        "----------------  --",
        "株式会社サンプル   1",
        "Müller & Söhne    22",
        "e\u0301cole              3",
      ].join("\n"),
    );
  });

  it("escapes headers too", () => {
    expect(formatTable({ headers: ["a\tb"], rows: [["x"]] })).toBe("a\\tb\n----\nx");
  });
});

describe("CSV and JSON", () => {
  it("keep every character exact", () => {
    const csv = formatCsv(hostile);
    expect(csv).toContain('"Line\nBreak Ltd",1');
    expect(csv).toContain("Tab\tSeparated,22");
    expect(csv).toContain("\u001b[2J\u001b[HCleared,333");
    expect(tableObjects(hostile).map((row) => row.organization)).toEqual(
      hostile.rows.map((row) => row[0]),
    );
  });
});

describe("layoutTable notes", () => {
  const table: Table = {
    headers: ["run", "outcome"],
    rule: false,
    rows: [
      [12, "failed"],
      [11, "complete"],
      [10, "failed"],
    ],
    notes: ["x".repeat(40), "", "short\tnote"],
  };

  it("puts each note on a line under its row, from the second column on", () => {
    expect(layoutTable(table)).toEqual({
      text: [
        "run  outcome",
        "12   failed",
        `     ${"x".repeat(40)}`,
        "11   complete",
        "10   failed",
        "     short\\tnote",
      ].join("\n"),
      cutNotes: 0,
    });
  });

  it("cuts a note longer than the width, ending it in …, and counts the cuts", () => {
    const { text, cutNotes } = layoutTable({ ...table, width: 30 });
    const lines = text.split("\n");
    expect(lines[2]).toBe(`     ${"x".repeat(24)}…`);
    expect(lines[2]).toHaveLength(30);
    expect(lines[5]).toBe("     short\\tnote");
    expect(cutNotes).toBe(1);
  });

  it("cuts by terminal columns, two for a CJK character", () => {
    const { text } = layoutTable({
      headers: ["run"],
      rows: [[1]],
      notes: ["日本語の長いメモです"],
      width: 12,
      rule: false,
    });
    expect(text.split("\n")[2]).toBe("     日本語…");
  });

  it("never cuts a character in two", () => {
    const { text } = layoutTable({
      headers: ["run"],
      rows: [[1]],
      notes: ["👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧"],
      width: 10,
      rule: false,
    });
    expect(text.split("\n")[2]).toBe("     👨‍👩‍👧👨‍👩‍👧…");
  });
});
