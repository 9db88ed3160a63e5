// Prometheus's own checker, promtool (Debian package `prometheus`; .ci/run installs it),
// and the metric names a worker really exposes, for tests of the alert rules and the
// dashboard.
import { spawnSync } from "node:child_process";
import type { Database } from "../../src/db.ts";
import { createWorkerMetrics } from "../../src/worker/metrics.ts";
import { captureLogs } from "./harness.ts";

export function promtool(args: string[], cwd?: string): { code: number | null; output: string } {
  const result = spawnSync("promtool", args, { cwd, encoding: "utf8" });
  if (result.error) {
    throw new Error(
      `promtool could not run (${result.error.message}): install it with apt-get install prometheus`,
    );
  }
  return { code: result.status, output: result.stdout + result.stderr };
}

/** The names of every metric /metrics serves while the database is readable. */
export async function exposedMetricNames(db: Database): Promise<Set<string>> {
  const metrics = createWorkerMetrics({ db, log: captureLogs().logger, nextFire: () => null });
  const text = await metrics.render();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] ?? ""));
}

/** The elements_sync_* metric names a PromQL expression refers to. */
export function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\belements_sync_\w+/g)].map((match) => match[0]);
}
