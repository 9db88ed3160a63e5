// The user's manual: README.md and the pages of docs/. Tests that hold the manual to the code
// read it through here, so a section can move from one page to another without its check
// being lost: a heading is found in whichever page holds it.
import { readdirSync, readFileSync } from "node:fs";

const ROOT = new URL("../../", import.meta.url);

export interface ManualPage {
  /** Relative to the project's folder: `README.md`, `docs/operating.md`… */
  path: string;
  text: string;
}

export interface Heading {
  page: ManualPage;
  level: number;
  title: string;
  /** Index of the heading's line in the page. */
  line: number;
}

/** README.md, then every page of docs/ in name order. */
export function manualPages(): ManualPage[] {
  const docs = readdirSync(new URL("docs/", ROOT))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", ...docs].map((path) => ({
    path,
    text: readFileSync(new URL(path, ROOT), "utf8"),
  }));
}

/** Every page, one after the other: for a text or a marked block anywhere in the manual. */
export function manualText(): string {
  return manualPages()
    .map((page) => page.text)
    .join("\n");
}

/** The markdown headings of a page, not counting `#` lines inside code blocks. */
export function headings(page: ManualPage): Heading[] {
  const found: Heading[] = [];
  let fenced = false;
  page.text.split("\n").forEach((text, line) => {
    if (/^\s*```/.test(text)) fenced = !fenced;
    const match = fenced ? null : /^(#+) (.*)$/.exec(text);
    if (match?.[1] && match[2] !== undefined) {
      found.push({ page, level: match[1].length, title: match[2], line });
    }
  });
  return found;
}

/**
 * The text under the one heading of the manual whose title starts with `title`, up to the
 * next heading of the same or a higher level.
 */
export function section(title: string): string {
  const matches = manualPages()
    .flatMap(headings)
    .filter((heading) => heading.title.startsWith(title));
  const [heading] = matches;
  if (!heading) throw new Error(`no page of the manual has a heading ${title}`);
  if (matches.length > 1) {
    const where = matches.map((m) => `${m.page.path}: ${m.title}`).join("; ");
    throw new Error(`the manual has several headings ${title} (${where})`);
  }
  const end = headings(heading.page).find((h) => h.line > heading.line && h.level <= heading.level);
  return heading.page.text.split("\n").slice(heading.line, end?.line).join("\n");
}

/** Rows of the first markdown table under the heading `title` (see section), as trimmed cells. */
export function tableAfter(title: string): string[][] {
  const lines = section(title).split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  if (first < 0) throw new Error(`no table under the heading ${title}`);
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows.slice(2); // header and separator
}

/** The SQL of the manual's example query marked `<!-- query: name -->`. */
export function exampleQuery(name: string): string {
  const match = new RegExp(`<!-- query: ${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(
    manualText(),
  );
  if (!match?.[1]) throw new Error(`the manual has no query ${name}`);
  return match[1];
}

/** Every example query of the manual, in order. */
export function exampleQueries(): { name: string; sql: string }[] {
  return [...manualText().matchAll(/<!-- query: ([\w-]+) -->\s*```sql\n([\s\S]*?)```/g)].map(
    (match) => ({ name: match[1] ?? "", sql: match[2] ?? "" }),
  );
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replaceAll(" ", "-");
}
