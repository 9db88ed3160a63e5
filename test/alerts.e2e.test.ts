// The alert rules of deploy/prometheus: valid for Prometheus, right on series fixtures
// (promtool test rules), built on metrics the worker really exposes, and listed in README.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { openDatabase, type Database } from "../src/db.ts";
import { migrate } from "../src/migrations.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { captureLogs } from "./support/harness.ts";
import { section } from "./support/manual.ts";
import { exposedMetricNames, metricNamesIn, promtool } from "./support/prometheus.ts";

const dir = fileURLToPath(new URL("../deploy/prometheus/", import.meta.url));

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
}
const rules = (
  parse(readFileSync(`${dir}alerts.yml`, "utf8")) as { groups: { rules: Rule[] }[] }
).groups.flatMap((group) => group.rules);

let db: TestDatabase;
let database: Database;

beforeAll(async () => {
  db = await createTestDatabase("es_alerts");
  database = openDatabase(db.url);
  await migrate(database.pool, { log: captureLogs().logger });
});

afterAll(async () => {
  await database.close();
  await db.drop();
});

describe("alert rules", () => {
  it("are valid Prometheus rules, and prometheus.yml loads them", () => {
    const rulesCheck = promtool(["check", "rules", "alerts.yml"], dir);
    expect(rulesCheck.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rulesCheck.code).toBe(0);
    const config = promtool(["check", "config", "prometheus.yml"], dir);
    expect(config.output).toContain("SUCCESS: 1 rule files found");
    expect(config.code).toBe(0);
  });

  it("pass their unit tests on series fixtures (promtool test rules)", () => {
    const result = promtool(["test", "rules", "alerts.test.yml"], dir);
    expect(result.output).toContain("SUCCESS");
    expect(result.output).not.toContain("FAILED");
    expect(result.code).toBe(0);
  });

  it("are each tested by a fixture", () => {
    const tested = new Set(
      [...readFileSync(`${dir}alerts.test.yml`, "utf8").matchAll(/alertname: (\w+)/g)].map(
        (match) => match[1],
      ),
    );
    for (const rule of rules) expect(tested).toContain(rule.alert);
  });

  it("watch what issues 13 and 23 ask for, on metrics the worker exposes", async () => {
    const exposed = await exposedMetricNames(database);
    const watched = new Set<string>();
    for (const rule of rules) {
      for (const name of metricNamesIn(rule.expr)) {
        expect(exposed, `${rule.alert} uses ${name}`).toContain(name);
        watched.add(name);
      }
      expect(["critical", "warning"]).toContain(rule.labels?.severity);
    }
    expect([...watched].sort()).toEqual([
      "elements_sync_database_up",
      "elements_sync_last_complete_success_timestamp_seconds",
      "elements_sync_last_run_resource_outcome",
      "elements_sync_last_run_status",
      "elements_sync_removals_withheld",
    ]);
    const stale = rules.find((rule) => rule.alert === "ElementsSyncNoCompleteSuccess");
    expect(stale?.expr).toMatch(/> 26 \* 3600\s*$/);
  });

  it("use metrics README documents, as README documents every metric the worker exposes", async () => {
    const exposed = [...(await exposedMetricNames(database))].filter((name) =>
      name.startsWith("elements_sync_"),
    );
    const documented = [
      ...section("Health and metrics").matchAll(/^\| `(elements_sync_\w+)/gm),
    ].map((match) => match[1]);
    expect([...documented].sort()).toEqual(exposed.sort());
  });

  it("are listed in README with their conditions", () => {
    const alerts = section("Alerts");
    const table = alerts.slice(0, alerts.indexOf("\n\n", alerts.indexOf("| alert")));
    const listed = [...table.matchAll(/^\| `(\w+)`/gm)].map((match) => match[1]);
    expect(listed).toEqual(rules.map((rule) => rule.alert));
  });
});
