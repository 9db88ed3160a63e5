// Where benchmark results go: bench/results/<date><suffix>.json, with the machine they ran on,
// so the figures in docs/performance.md and docs/reporting.md can be traced to a file.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname } from "node:path";
import pg from "pg";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  postgres: string;
}

export async function describeMachine(databaseUrl: string): Promise<Machine> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
    return {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      os: `${platform()} ${release()}`,
      node: process.version,
      postgres: rows[0]?.server_version ?? "unknown",
    };
  } finally {
    await client.end();
  }
}

/** The npm command that reproduces this run, arguments included. */
export function benchCommand(script: string): string {
  const args = process.argv.slice(2);
  return `npm run ${script}${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
}

/**
 * Writes `report` to `out` when given, else to bench/results/<today><suffix>.json, and
 * returns the path.
 */
export function saveResults(suffix: string, report: { date: string }, out?: string): string {
  const dir = new URL("results/", import.meta.url).pathname;
  const file = out ?? `${dir}${report.date.slice(0, 10)}${suffix}.json`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
