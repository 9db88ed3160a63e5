// npm 12 skips dependency install scripts that package.json's allowScripts does not approve.
// The `node` package's preinstall is what puts Node 24 into node_modules, so an unreviewed
// script is a broken install for newcomers: every one must be approved or denied on purpose.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

interface Lockfile {
  packages: Record<string, { hasInstallScript?: boolean }>;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), "utf8"));
}

/** Names of the locked packages that have install scripts, e.g. "@prisma/engines". */
function packagesWithInstallScripts(): Set<string> {
  const lock = readJson("package-lock.json") as Lockfile;
  const names = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== "" && entry.hasInstallScript === true)
    .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
  return new Set(names);
}

describe("install scripts", () => {
  const { allowScripts } = readJson("package.json") as { allowScripts: Record<string, boolean> };

  it("approves the Node 24 and Prisma installers and denies the rest", () => {
    expect(allowScripts).toEqual({
      node: true,
      prisma: true,
      "@prisma/engines": false,
      "cpu-features": false,
      ssh2: false,
      protobufjs: false,
    });
  });

  it("covers exactly the locked packages that have install scripts", () => {
    expect(new Set(Object.keys(allowScripts))).toEqual(packagesWithInstallScripts());
  });

  it("leaves npm nothing to review", async () => {
    const { stdout } = await run("npm", ["install-scripts", "ls"], {
      cwd: new URL("..", import.meta.url),
    });
    expect(stdout.trim()).toBe("No packages with unreviewed install scripts.");
  });
});
