// `elements-sync --version`: the package's name and version, and the Node.js running it (the
// two things a bug report needs first).
import { readFileSync } from "node:fs";

export function versionLine(): string {
  const manifest = JSON.parse(
    readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
  ) as { name?: unknown; version?: unknown };
  return `${String(manifest.name)} ${String(manifest.version)} (Node.js ${process.version})`;
}
