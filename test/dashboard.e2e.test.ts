// The Grafana dashboard of deploy/grafana and the Compose profile that provisions it: it
// refers only to the data sources the provisioning defines, every PromQL expression parses
// (promtool) and names metrics the worker exposes, and every SQL query runs as a bi-access
// role against a synced database and answers what its panel says.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import { runCli } from "./support/cli.ts";
import { createHarness, sampleCustomers, type Harness } from "./support/harness.ts";
import { exposedMetricNames, metricNamesIn, promtool } from "./support/prometheus.ts";
import { observeJob, observeSubscription, type FixtureRun } from "./support/resource-fixtures.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface DataSourceRef {
  type: string;
  uid: string;
}
interface Target {
  refId: string;
  datasource: DataSourceRef;
  expr?: string;
  rawSql?: string;
  format?: string;
}
interface Panel {
  id: number;
  title: string;
  type: string;
  datasource: DataSourceRef;
  targets: Target[];
}
interface Grid {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface ProvisionedDataSource {
  name: string;
  uid: string;
  type: string;
  url: string;
  user?: string;
  jsonData?: Record<string, unknown>;
  secureJsonData?: Record<string, string>;
}

const dashboard = JSON.parse(read("deploy/grafana/dashboards/elements-sync.json")) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; datasource: DataSourceRef; allValue?: string }[] };
};
const provisioned = (
  parse(read("deploy/grafana/provisioning/datasources/elements-sync.yml")) as {
    datasources: ProvisionedDataSource[];
  }
).datasources;
const targets = dashboard.panels.flatMap((panel) =>
  panel.targets.map((target) => ({ panel: panel.title, ...target })),
);
const promql = targets.filter((target) => target.expr !== undefined);
const sqlTargets = targets.filter((target) => target.rawSql !== undefined);

/** Every `datasource` object anywhere in the JSON. */
function dataSourceRefs(node: unknown): DataSourceRef[] {
  if (Array.isArray(node)) return node.flatMap(dataSourceRefs);
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === "datasource" ? [value as DataSourceRef] : dataSourceRefs(value),
  );
}

/**
 * What Grafana sends PostgreSQL for a panel query over [from, to]: its macros expanded as
 * the PostgreSQL data source expands them. An unknown macro or variable fails the test.
 */
function expandSql(sql: string, from: Date, to: Date): string {
  const literal = (date: Date) => `'${date.toISOString().replace(/\.\d{3}Z$/, "Z")}'`;
  const expanded = sql
    .replaceAll(
      /\$__timeFilter\(([^)]+)\)/g,
      (_, column: string) => `${column} BETWEEN ${literal(from)} AND ${literal(to)}`,
    )
    .replaceAll("$__timeFrom()", literal(from))
    .replaceAll("$__timeTo()", literal(to));
  expect(expanded).not.toMatch(/\$/);
  return expanded;
}

/** What Grafana sends Prometheus: its variables replaced by values of their kind. */
function expandPromql(expr: string): string {
  const job = dashboard.templating.list.find((variable) => variable.name === "job");
  const expanded = expr
    .replaceAll("$__rate_interval", "2m")
    .replaceAll("$job", job?.allValue ?? "unset");
  expect(expanded).not.toMatch(/\$/);
  return expanded;
}

describe("the Grafana dashboard", () => {
  it("refers only to data sources the provisioning defines", () => {
    const refs = dataSourceRefs(dashboard);
    expect(refs.length).toBeGreaterThan(targets.length);
    const defined = provisioned.map(({ type, uid }) => ({ type, uid }));
    for (const ref of refs) expect(defined).toContainEqual({ type: ref.type, uid: ref.uid });
    // Both are used: SQL through PostgreSQL, PromQL through Prometheus.
    const byType = (type: string) => provisioned.find((source) => source.type === type)?.uid;
    for (const target of sqlTargets) {
      expect(target.datasource.uid).toBe(byType("grafana-postgresql-datasource"));
    }
    for (const target of promql) expect(target.datasource.uid).toBe(byType("prometheus"));
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
  });

  it("shows what issue 13 asks for", () => {
    const titles = dashboard.panels.map((panel) => panel.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        "Customers per job status",
        "Changes into Failed in the last 24 h",
        "Run durations by outcome",
        "Run outcomes in the time range",
        "API answers by HTTP status",
        "Retries by cause",
        "429 answers",
        "Since the last success",
      ]),
    );
  });

  it("shows what issue 23 asks for", () => {
    const titles = dashboard.panels.map((panel) => panel.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        "Failing backup jobs",
        "Failing customers and their failed jobs",
        "Subscriptions expiring in 30 days",
        "Subscriptions expiring in the next 30 days",
      ]),
    );
    // No two panels overlap on Grafana's 24-column grid.
    const cells = new Set<string>();
    for (const { gridPos } of dashboard.panels as (Panel & { gridPos: Grid })[]) {
      expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it("has PromQL that parses (promtool) and names only metrics the worker exposes", async () => {
    expect(promql.length).toBeGreaterThanOrEqual(8);
    // promtool parses expressions in rule files: one recording rule per panel query.
    const rules = {
      groups: [
        {
          name: "dashboard",
          rules: promql.map((target, i) => ({
            record: `dashboard:panel_${i}`,
            expr: expandPromql(target.expr ?? ""),
          })),
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), "elements-sync-dashboard-"));
    try {
      writeFileSync(join(dir, "panels.yml"), stringify(rules));
      const result = promtool(["check", "rules", "panels.yml"], dir);
      expect(result.output).toContain(`SUCCESS: ${promql.length} rules found`);
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const h = await createHarness({ customers: sampleCustomers(3) });
    try {
      const exposed = await exposedMetricNames(h.database);
      for (const target of promql) {
        for (const name of metricNamesIn(target.expr ?? "")) {
          expect(exposed, `${target.panel}: ${name}`).toContain(name);
        }
      }
    } finally {
      await h.close();
    }
  });

  describe("SQL panels, as a bi-access role on a synced database", () => {
    const role = `grafana_reader_${randomBytes(4).toString("hex")}`;
    const password = "dashboard test password";
    const FAILED = 2;
    let h: Harness;
    let reader: pg.Client;
    let movedIntoFailed: string[];

    beforeAll(async () => {
      const customers = sampleCustomers(40).map((customer) => ({ ...customer, jobStatus: 1 }));
      h = await createHarness({ customers });
      await h.sync();
      // Five customers go Failed in the next run; one goes away.
      const next = customers
        .slice(1)
        .map((customer, i) => (i < 5 ? { ...customer, jobStatus: FAILED } : customer));
      movedIntoFailed = next.slice(0, 5).map((customer) => customer.id);
      await h.serve(next);
      await h.sync();
      h.simulator.injectFault({ status: 400 });
      await h.sync();
      await addJobsAndSubscriptions(customers.map((customer) => customer.id));

      const access = await runCli(
        ["bi-access", role],
        { DATABASE_URL: h.db.url },
        { stdin: password },
      );
      expect(access.code).toBe(0);
      const url = new URL(h.db.url);
      url.username = role;
      url.password = password;
      reader = new pg.Client({ connectionString: url.toString() });
      await reader.connect();
    });

    /**
     * Backup jobs and subscriptions as runs 1 and 2 would have recorded them (the first
     * customer is gone in run 2, the next five Failed), beside whatever the sync recorded.
     */
    async function addJobsAndSubscriptions(ids: string[]): Promise<void> {
      const runs = await h.db.query<FixtureRun>(
        `SELECT id, started_at AS "startedAt" FROM sync_runs WHERE status = 'succeeded' ORDER BY id`,
      );
      const [first, second] = runs;
      const [gone = "", failedA = "", failedB = ""] = ids;
      const working = ids[10] ?? "";
      if (!first || !second) throw new Error("two runs succeeded");
      const job = (customerId: string, jobId: string, status: number) => ({
        customerId,
        jobId,
        status,
        name: `Dashboard ${jobId}`,
        jobModule: 303,
      });
      await observeJob(h.db, first, job(gone, "dash-gone", 3));
      await observeJob(h.db, first, job(failedA, "dash-fail-1", 1));
      await observeJob(h.db, second, job(failedA, "dash-fail-1", 3));
      await observeJob(h.db, second, job(failedA, "dash-fine", 2));
      await observeJob(h.db, second, job(failedB, "dash-fail-2", 7));
      // A failing job of a customer that is not failing: counted, but not a failing customer.
      await observeJob(h.db, second, job(working, "dash-fail-3", 4));
      const inDays = (days: number) => new Date(Date.now() + days * 86_400_000);
      for (const [service, days] of [
        ["Dash soon", 3],
        ["Dash later this month", 20],
        ["Dash next quarter", 45],
        ["Dash expired", -2],
      ] as const) {
        await observeSubscription(h.db, second, {
          customerId: working,
          service,
          expirationDate: inDays(days),
          purchasedUserSeats: 25,
        });
      }
    }

    afterAll(async () => {
      await reader.end();
      await h.close();
      const admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    });

    // Grafana's macros carry whole seconds, so "now" is rounded up: a run that started in this
    // very second must fall inside the range, as it does in Grafana once the second has passed.
    const now = () => new Date(Math.ceil(Date.now() / 1000) * 1000);
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);
    const answer = async (title: string) => {
      const target = sqlTargets.find((t) => t.panel === title);
      if (!target?.rawSql) throw new Error(`no SQL panel ${title}`);
      const result = await reader.query<Record<string, unknown>>(
        expandSql(target.rawSql, daysAgo(30), now()),
      );
      return result.rows;
    };

    it("every query runs as the role, which cannot read the base tables", async () => {
      expect(sqlTargets.length).toBeGreaterThanOrEqual(6);
      for (const target of sqlTargets) {
        const result = await reader.query(expandSql(target.rawSql ?? "", daysAgo(30), now()));
        expect(result.fields.length, target.panel).toBeGreaterThan(0);
      }
      await expect(reader.query("SELECT count(*) FROM customers")).rejects.toThrow(
        /permission denied/,
      );
    });

    it("count and list the customers moved into Failed in the last 24 hours", async () => {
      expect(await answer("Into Failed, last 24 h")).toEqual([{ customers: "5" }]);
      const listed = await answer("Changes into Failed in the last 24 h");
      expect(listed.map((row) => row.customer_id).sort()).toEqual([...movedIntoFailed].sort());
      expect(listed[0]).toMatchObject({ change_kind: "changed", from: "Working", to: "Failed" });
    });

    it("count failing jobs of present customers and list failing customers with theirs", async () => {
      const [counted] = await h.db.query<{ jobs: string }>(
        `SELECT count(*) AS jobs FROM backup_jobs b JOIN customers c ON c.id = b.customer_id
         WHERE c.removed_at IS NULL AND b.status IN (3, 4, 7)`,
      );
      const failing = await answer("Failing backup jobs");
      expect(failing).toEqual([{ jobs: counted?.jobs }]);
      // dash-fail-1, -2 and -3; not the removed customer's.
      expect(Number(counted?.jobs)).toBeGreaterThanOrEqual(3);

      const rows = await answer("Failing customers and their failed jobs");
      expect(new Set(rows.map((row) => row.customer_id))).toEqual(new Set(movedIntoFailed));
      const ours = rows.filter((row) => String(row.job_id).startsWith("dash-"));
      const byJob = ours.map((row) => [row.customer_id, row.job_id, row.job_status]);
      expect(byJob.sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
        [movedIntoFailed[0], "dash-fail-1", "Failed"],
        [movedIntoFailed[1], "dash-fail-2", "Failed to start"],
      ]);
      expect(ours.find((row) => row.job_id === "dash-fail-1")).toMatchObject({
        customer_status: "Failed",
        job: "Dashboard dash-fail-1",
        module: "Exchange Online",
      });
    });

    it("count and list the subscriptions expiring in the next 30 days, soonest first", async () => {
      const [counted] = await h.db.query<{ subscriptions: string }>(
        `SELECT count(*) AS subscriptions FROM subscriptions
         WHERE removed_at IS NULL AND expiration_date::date - current_date BETWEEN 0 AND 30`,
      );
      expect(await answer("Subscriptions expiring in 30 days")).toEqual([
        { subscriptions: counted?.subscriptions },
      ]);
      const rows = await answer("Subscriptions expiring in the next 30 days");
      expect(rows).toHaveLength(Number(counted?.subscriptions));
      const ours = rows.filter((row) => String(row.service).startsWith("Dash "));
      expect(ours.map((row) => [row.service, row.days_left, row.purchased_user_seats])).toEqual([
        ["Dash soon", 3, 25],
        ["Dash later this month", 20, 25],
      ]);
    });

    it("give customers per job status per day, runs by outcome and the latest runs", async () => {
      const perStatus = await answer("Customers per job status");
      const lastDay = Math.max(...perStatus.map((row) => (row.time as Date).getTime()));
      const atLastDay = Object.fromEntries(
        perStatus
          .filter((row) => (row.time as Date).getTime() === lastDay)
          .map((row) => [row.metric as string, row.customers as number]),
      );
      expect(atLastDay).toMatchObject({ Working: 34, Failed: 5 });

      const outcomes = await answer("Run outcomes in the time range");
      expect(outcomes).toEqual([
        { outcome: "complete", runs: "2" },
        { outcome: "failed", runs: "1" },
      ]);
      const durations = await answer("Run durations by outcome");
      expect(durations.map((row) => row.metric)).toEqual(["complete", "complete", "failed"]);
      const latest = await answer("Latest runs");
      expect(latest.map((row) => [row.run_id, row.status])).toEqual([
        [3, "failed"],
        [2, "succeeded"],
        [1, "succeeded"],
      ]);
      expect(latest[1]).toMatchObject({ customers_removed: 1, status_changes: 5 });
    });
  });
});

describe("the monitoring profile of docker-compose.yml", () => {
  interface Service {
    image?: string;
    build?: string;
    profiles?: string[];
    command?: string[];
    entrypoint?: string[];
    environment?: Record<string, string>;
    volumes?: string[];
    healthcheck?: { test: string[] };
    depends_on?: Record<string, { condition: string }>;
  }
  const services = (
    parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service> }
  ).services;
  const { prometheus, grafana, "grafana-reader": grafanaReader } = services;
  const monitoring = Object.entries(services).filter(([, s]) => s.profiles?.includes("monitoring"));

  it("runs Prometheus and Grafana from pinned images, with health checks", () => {
    expect(monitoring.map(([name]) => name).sort()).toEqual([
      "grafana",
      "grafana-reader",
      "prometheus",
    ]);
    expect(prometheus?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    for (const service of [prometheus, grafana]) {
      expect(service?.healthcheck?.test.join(" ")).toMatch(/http:\/\/127\.0\.0\.1:\d+\//);
    }
    expect(grafana?.depends_on).toEqual({
      prometheus: { condition: "service_healthy" },
      "grafana-reader": { condition: "service_completed_successfully" },
    });
  });

  it("mounts deploy/ where Prometheus and Grafana read their configuration", () => {
    const mounts = (service: Service | undefined) =>
      Object.fromEntries(
        (service?.volumes ?? []).map((volume) => {
          const [host = "", container = ""] = volume.split(":");
          expect(existsSync(new URL(host.replace(/^\.\//, ""), root))).toBe(true);
          return [container, host];
        }),
      );
    const prometheusMounts = mounts(prometheus);
    const config = prometheus?.command?.find((arg) => arg.startsWith("--config.file="));
    const configDir = Object.keys(prometheusMounts).find((dir) =>
      config?.slice("--config.file=".length).startsWith(`${dir}/`),
    );
    expect(prometheusMounts[configDir ?? ""]).toBe("./deploy/prometheus");
    expect(mounts(grafana)).toEqual({
      "/etc/grafana/provisioning": "./deploy/grafana/provisioning",
      "/var/lib/grafana/dashboards": "./deploy/grafana/dashboards",
    });
    // The dashboard is Grafana's home page, for viewers without a login.
    const home = grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? "";
    expect(home).toBe("/var/lib/grafana/dashboards/elements-sync.json");
    expect(grafana?.environment).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: "true",
      GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer",
    });
    const provider = parse(read("deploy/grafana/provisioning/dashboards/elements-sync.yml")) as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0]?.options.path).toBe("/var/lib/grafana/dashboards");
  });

  it("scrapes every replica of the worker and of the demo worker, one job each, at their HTTP_PORT", () => {
    const config = parse(read("deploy/prometheus/prometheus.yml")) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        dns_sd_configs: { names: string[]; type: string; port: number }[];
      }[];
    };
    expect(config.rule_files).toEqual(["alerts.yml"]);
    const jobs = config.scrape_configs.map((job) => {
      const [sd] = job.dns_sd_configs;
      const service = services[sd?.names[0] ?? ""];
      expect(Number(service?.environment?.HTTP_PORT)).toBe(sd?.port);
      return [job.job_name, sd?.names];
    });
    expect(jobs).toEqual([
      ["elements-sync", ["worker"]],
      ["elements-sync-demo", ["demo-worker"]],
    ]);
  });

  it("gives Grafana's PostgreSQL data source the bi-access role grafana-reader creates, and the variables it reads", () => {
    const postgresSource = provisioned.find((s) => s.type === "grafana-postgresql-datasource");
    const prometheusSource = provisioned.find((s) => s.type === "prometheus");
    expect(prometheusSource?.url).toBe("http://prometheus:9090");
    expect(postgresSource?.url).toBe("postgres:5432");
    const script = [...(grafanaReader?.entrypoint ?? []), ...(grafanaReader?.command ?? [])].join(
      " ",
    );
    expect(script).toContain(`bi-access ${postgresSource?.user ?? "?"}`);
    expect(script).toMatch(/migrate &&/);
    // Provisioning reads $NAME from Grafana's environment: each must be set there.
    const variables = [
      ...read("deploy/grafana/provisioning/datasources/elements-sync.yml").matchAll(/\$([A-Z_]+)/g),
    ].map((match) => match[1] ?? "");
    expect(variables.sort()).toEqual(["GRAFANA_READER_PASSWORD", "MONITORING_DATABASE"]);
    for (const name of variables) expect(grafana?.environment?.[name]).toBeDefined();
    expect(grafana?.environment?.GRAFANA_READER_PASSWORD).toBe(
      grafanaReader?.environment?.GRAFANA_READER_PASSWORD,
    );
    expect(grafanaReader?.environment?.DATABASE_URL).toMatch(
      /@postgres:5432\/\$\{MONITORING_DATABASE:-elements\}$/,
    );
    expect(grafana?.environment?.MONITORING_DATABASE).toBe("${MONITORING_DATABASE:-elements}");
  });
});
