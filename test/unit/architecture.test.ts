// How src/ is put together, as docs/development.md describes it: one way into the
// database (src/db.ts), no SQL in the commands, and no import cycle.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

/** src/**\/*.ts by path relative to src/, without the generated Prisma client. */
function sources(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "generated") walk(path);
      else if (entry.isFile() && entry.name.endsWith(".ts")) {
        files.set(relative(SRC, path), readFileSync(path, "utf8"));
      }
    }
  };
  walk(SRC);
  return files;
}

/** The lines of `text` matching `pattern`, as "file:line: text". */
function matches(files: Map<string, string>, pattern: RegExp): string[] {
  return [...files].flatMap(([file, text]) =>
    text
      .split("\n")
      .flatMap((line, index) =>
        pattern.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
      ),
  );
}

/** Relative imports (type-only ones too: they make a cycle for the reader all the same). */
function importsOf(file: string, text: string): string[] {
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gms)].map(
    (match) => relative(SRC, resolve(dirname(join(SRC, file)), match[1] ?? "")),
  );
}

/** Every import cycle, each as the files it passes through. */
function importCycles(files: Map<string, string>): string[][] {
  const graph = new Map([...files].map(([file, text]) => [file, importsOf(file, text)]));
  const done = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string, path: string[]) => {
    const seenAt = path.indexOf(file);
    if (seenAt >= 0) {
      cycles.push([...path.slice(seenAt), file]);
      return;
    }
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
  return cycles;
}

describe("src/", () => {
  const files = sources();
  const outsideDb = new Map([...files].filter(([file]) => file !== "db.ts"));

  it("finds the modules it checks", () => {
    expect(files.has("db.ts")).toBe(true);
    expect([...files.keys()].filter((file) => file.startsWith("cli/")).length).toBeGreaterThan(5);
  });

  it("opens connections and sessions only in db.ts", () => {
    expect(matches(outsideDb, /new (pg\.)?(Client|Pool)\(|\.connect\(\)/)).toEqual([]);
  });

  it("writes BEGIN and COMMIT only in db.ts (inTransaction)", () => {
    expect(matches(outsideDb, /["'`]\s*(BEGIN|COMMIT|ROLLBACK)\b/)).toEqual([]);
    expect(matches(files, /["'`]\s*BEGIN\b/)).toHaveLength(1);
  });

  it("has no SQL in the commands: they call sync/ and reporting/", () => {
    const commands = new Map([...files].filter(([file]) => file.startsWith("cli/")));
    expect(
      matches(commands, /\.query\(|\$queryRaw|\$executeRaw|\$transaction|from "pg"|\bSELECT\b/),
    ).toEqual([]);
  });

  it("points configuration one way: modules own their options, only commands read config.ts", () => {
    const importers = [...files]
      .filter(([file, text]) => importsOf(file, text).includes("config.ts"))
      .map(([file]) => file);
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((file) => !file.startsWith("cli/"))).toEqual([]);
  });

  it("loads no command, Prisma or sync for help and --version: main.ts imports the table only", () => {
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file) || !files.has(file)) return;
      reached.add(file);
      for (const next of importsOf(file, files.get(file) ?? "")) visit(next);
    };
    visit("cli/main.ts");
    expect(reached.has("cli/commands.ts")).toBe(true);
    expect(
      [...reached].filter((file) =>
        /^(db|config|migrations)\.ts$|^(sync|elements|worker|reporting|notify|simulator)\/|^cli\/(sync|start|status|migrate|simulate|demo|report|bi-access|failure)\.ts$/.test(
          file,
        ),
      ),
    ).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(importCycles(files)).toEqual([]);
  });
});
