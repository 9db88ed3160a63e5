// `elements-sync --version` and `elements-sync help <command>` through the real CLI.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** The commands the overview lists, by name. */
function listedCommands(overview: string): string[] {
  const section = overview.split("Commands:\n")[1]?.split("\n\n")[0] ?? "";
  return section.split("\n").map((line) => line.trim().split(/\s+/)[0] ?? "");
}

describe("elements-sync --version", () => {
  it.each([["--version"], ["-V"]])(
    "%s prints the version of package.json and Node's",
    async (flag) => {
      const result = await runCli([flag]);
      expect(result).toEqual({
        code: 0,
        stdout: `elements-sync ${manifest.version} (Node.js ${process.version})\n`,
        stderr: "",
      });
    },
  );

  it("takes no arguments", async () => {
    const result = await runCli(["--version", "sync"]);
    expect(result).toEqual({
      code: 2,
      stdout: "",
      stderr: 'elements-sync: --version takes no arguments; got "sync".\n',
    });
  });
});

describe("elements-sync help", () => {
  it("alone prints the overview, which names help <command> and --version", async () => {
    const result = await runCli(["help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe((await runCli(["--help"])).stdout);
    expect(result.stdout).toContain("elements-sync help <command>");
    expect(result.stdout).toContain("elements-sync --version");
  });

  it("help <command> prints what <command> --help prints, for every command", async () => {
    const commands = listedCommands((await runCli(["help"])).stdout);
    expect(commands).toEqual([
      "sync",
      "start",
      "status",
      "migrate",
      "simulate",
      "demo",
      "report",
      "bi-access",
    ]);
    for (const command of commands) {
      const help = await runCli(["help", command]);
      expect(help.code).toBe(0);
      expect(help.stderr).toBe("");
      expect(help.stdout).toMatch(new RegExp(`^Usage: elements-sync ${command}\\b`));
      expect(help.stdout).toBe((await runCli([command, "--help"])).stdout);
    }
  });

  it("help report changes is the report's help", async () => {
    const result = await runCli(["help", "report", "changes"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe((await runCli(["report", "--help"])).stdout);
  });

  it("help <no such command> exits 2 with the nearest command", async () => {
    const result = await runCli(["help", "snyc"]);
    expect(result).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'elements-sync help: unknown command "snyc". Did you mean "sync"? Run `elements-sync --help` for the commands.\n',
    });
  });
});
