// The manual (README.md and docs/) as a whole: its links lead somewhere, and every command it
// shows runs as written from the project's folder. test/readme.e2e.test.ts and the tests
// named there hold its content to the code.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands.ts";
import { customerSchema } from "../../src/elements/payload.ts";
import { readCustomersFile } from "../../src/simulator/data.ts";
import { anchor, headings, manualPages, manualText, tableAfter } from "../support/manual.ts";

const ROOT = new URL("../../", import.meta.url);

/** The command's names: `npx elements-sync <one of these>` is how the manual writes it. */
const COMMAND =
  /^(?:\$ )?elements-sync (?:sync|start|status|migrate|simulate|demo|report|bi-access|help)\b(?!:)/;

/** Inline code spans of a page, and the lines of its code blocks. */
function codeOf(text: string): string[] {
  const code: string[] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) code.push(line.trim());
    else code.push(...[...line.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ""));
  }
  return code;
}

describe("the manual", () => {
  const pages = manualPages();

  it("has a page for each part README links to, and an anchor for each link into a page", () => {
    const broken: string[] = [];
    for (const page of pages) {
      const base = new URL(page.path, ROOT);
      for (const [, target = ""] of page.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // http:, https:, mailto:
        const [file = "", fragment] = target.split("#");
        const url = file === "" ? base : new URL(file, base);
        if (!existsSync(url)) {
          broken.push(`${page.path}: ${target} (no such file)`);
          continue;
        }
        if (fragment === undefined) continue;
        const linked = pages.find((p) => new URL(p.path, ROOT).href === url.href);
        const anchors = linked ? headings(linked).map((h) => anchor(h.title)) : [];
        if (!anchors.includes(fragment)) broken.push(`${page.path}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("writes every command as npx elements-sync …, which runs from the project's folder", () => {
    const bare = pages.flatMap((page) =>
      codeOf(page.text)
        .filter((code) => COMMAND.test(code))
        .map((code) => `${page.path}: ${code}`),
    );
    expect(bare).toEqual([]);
    // The check sees the commands the manual shows.
    expect(pages.flatMap((page) => codeOf(page.text)).join("\n")).toContain(
      "npx elements-sync sync",
    );
  });

  it("has one heading of each title, so a check finds its section in one place", () => {
    const titles = pages.flatMap(headings).map((h) => h.title);
    const repeated = titles.filter((title, i) => titles.indexOf(title) !== i);
    expect(repeated).toEqual([]);
  });

  it("lists every option of the simulator, as its help does", () => {
    const listed = tableAfter("The simulator's options").map(
      ([option = ""]) => option.replaceAll("`", "").split(" ")[0],
    );
    expect(listed).toEqual(
      Object.keys(COMMANDS.simulate?.options ?? {}).map((name) => `--${name}`),
    );
  });

  it("gives a --data file the simulator reads and whose records a run accepts", async () => {
    const match = /<!-- data-file-example -->\s*```json\n([\s\S]*?)```/.exec(manualText());
    if (!match?.[1]) throw new Error("the manual has no --data example");
    const dir = mkdtempSync(join(tmpdir(), "manual-data-"));
    try {
      const file = join(dir, "customers.json");
      writeFileSync(file, match[1]);
      const records = await readCustomersFile(file);
      expect(records.length).toBeGreaterThan(0);
      for (const record of records) expect(customerSchema.safeParse(record).error).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
