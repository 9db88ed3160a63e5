// The Dockerfile, built and run on a real engine: the image builds without pulling (on our
// machines against the stand-ins of scripts/container-engine.sh), runs as a non-root user,
// holds production dependencies only, answers --help, and, run as the simulator and as the
// worker beside a PostgreSQL container, migrates and syncs and reports healthy through its
// own HEALTHCHECK.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { docker, dockerEnv, readyOrUnused, removeLabelled } from "../support/container-engine.ts";
import { composePostgresImage } from "../support/global-setup.ts";

const engine = inject("containerEngine");
const ready = readyOrUnused(engine);
const root = new URL("../../", import.meta.url);
const SIMULATED_CUSTOMERS = 40;

interface Lockfile {
  packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
}

describe.skipIf(!engine.available)("the image", () => {
  const env = dockerEnv(ready);
  const run = randomBytes(4).toString("hex");
  // The name Compose gives the image: `docker compose build` would make the same. It stays
  // after the tests, and with it the build cache the next build starts from.
  const tag = composeImage();
  const label = `elements-sync.test=image-${run}`;
  const network = `elements-sync-test-${run}`;
  const named = (role: string) => `elements-sync-test-${role}-${run}`;

  /** Starts a container in the test network, labelled for clean-up; returns its name. */
  async function start(role: string, args: string[]): Promise<string> {
    const name = named(role);
    await docker(env, [
      "run",
      "--detach",
      "--name",
      name,
      "--network",
      network,
      "--label",
      label,
      ...args,
    ]);
    return name;
  }

  beforeAll(async () => {
    const started = performance.now();
    // Nothing can be pulled here: the base image must already be there (a stand-in, here).
    await docker(env, ["build", "--pull=false", "--force-rm", "--tag", tag, "."], {
      cwd: root.pathname,
    });
    console.info(`image: built ${tag} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    await docker(env, ["network", "create", "--label", label, network]);
  });

  afterAll(async () => {
    await removeLabelled(env, label);
  });

  it("is small: Node.js's slim image plus what the project adds", async () => {
    const size = async (image: string) =>
      Number((await docker(env, ["image", "inspect", "--format", "{{.Size}}", image])).stdout);
    const base = /^FROM (\S+)$/m.exec(readFileSync(new URL("Dockerfile", root), "utf8"))?.[1];
    const image = await size(tag);
    const added = image - (await size(base ?? ""));
    console.info(
      `image: ${(image / 1e6).toFixed(0)} MB, of which the project adds ${(added / 1e6).toFixed(0)} MB`,
    );
    // node_modules of the production dependencies are about 95 MB; all of them are 340 MB.
    expect(added).toBeLessThan(150e6);
  });

  it("runs as the unprivileged node user", async () => {
    const id = await docker(env, ["run", "--rm", "--entrypoint", "id", tag]);
    expect(id.stdout).toMatch(/^uid=1000\(node\) gid=1000\(node\)/);
  });

  it("answers elements-sync --help", async () => {
    const help = await docker(env, ["run", "--rm", tag, "--help"]);
    expect(help.stdout).toContain("Usage: elements-sync <command>");
  });

  it("holds every production dependency and no development one", async () => {
    const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as Lockfile;
    const paths = Object.entries(lock.packages).filter(([path]) => path !== "");
    // devOptional: a devDependency that a production package names as an optional peer
    // (prisma, typescript); `npm prune --omit=dev` alone keeps those.
    const development = paths.filter(([, p]) => p.dev || p.devOptional).map(([path]) => path);
    const production = paths.filter(([, p]) => !p.dev && !p.devOptional && !p.optional);
    expect(development.length).toBeGreaterThan(100);
    const found = await docker(
      env,
      [
        "run",
        "--rm",
        "--interactive",
        "--entrypoint",
        "node",
        tag,
        "-e",
        `let input = "";
         process.stdin.on("data", (d) => (input += d)).on("end", () => {
           const fs = require("node:fs");
           const paths = JSON.parse(input);
           console.log(JSON.stringify(paths.filter((path) => fs.existsSync(path))));
         });`,
      ],
      { input: JSON.stringify([...development, ...production.map(([path]) => path)]) },
    );
    const present = new Set(JSON.parse(found.stdout) as string[]);
    expect(development.filter((path) => present.has(path))).toEqual([]);
    expect(production.map(([path]) => path).filter((path) => !present.has(path))).toEqual([]);
  });

  it("migrates and syncs the simulator into PostgreSQL, and reports healthy while start runs", async () => {
    const password = randomBytes(9).toString("hex");
    const postgres = await start("postgres", [
      "--env",
      "POSTGRES_USER=elements",
      "--env",
      `POSTGRES_PASSWORD=${password}`,
      "--env",
      "POSTGRES_DB=elements",
      "--publish",
      "127.0.0.1::5432",
      composePostgresImage(),
    ]);
    const simulator = await start("simulator", [
      tag,
      "simulate",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
      "--customers",
      String(SIMULATED_CUSTOMERS),
    ]);
    const published = (await docker(env, ["port", postgres, "5432/tcp"])).stdout.trim();
    const url = `postgresql://elements:${password}@127.0.0.1:${published.split(":").at(-1) ?? ""}/elements`;
    await expect.poll(() => connects(url), { timeout: 60_000, interval: 250 }).toBe(true);

    // The image's own command (`start`) and health check: nothing overridden but settings.
    const worker = await start("worker", [
      "--env",
      `DATABASE_URL=postgresql://elements:${password}@${postgres}:5432/elements`,
      "--env",
      `ELEMENTS_API_URL=http://${simulator}:8080`,
      "--env",
      `ELEMENTS_IDENTITY_URL=http://${simulator}:8080`,
      "--env",
      "ELEMENTS_CLIENT_ID=demo-client",
      "--env",
      "ELEMENTS_CLIENT_SECRET=demo-secret",
      "--env",
      "SYNC_ON_START=true",
      tag,
    ]);
    const health = async () =>
      (
        await docker(env, ["inspect", "--format", "{{.State.Health.Status}}", worker])
      ).stdout.trim();
    await expect.poll(health, { timeout: 90_000, interval: 500 }).toBe("healthy");

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const migrations = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL",
      );
      const folders = readdirSync(new URL("prisma/migrations", root)).filter((name) =>
        /^\d{14}_/.test(name),
      );
      expect(migrations.rows[0]?.n).toBe(folders.length);
      const runs = async () =>
        (
          await client.query<{ status: string; customers_seen: number }>(
            "SELECT status, customers_seen FROM sync_runs ORDER BY id",
          )
        ).rows;
      await expect
        .poll(runs, { timeout: 60_000, interval: 250 })
        .toEqual([{ status: "succeeded", customers_seen: SIMULATED_CUSTOMERS }]);
      const customers = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM customers",
      );
      expect(customers.rows[0]?.n).toBe(SIMULATED_CUSTOMERS);
    } finally {
      await client.end();
    }
    expect(await health()).toBe("healthy");

    // `docker stop` sends SIGTERM to the entry point, node itself: the worker exits 0.
    await docker(env, ["stop", "--time", "15", worker]);
    const exit = await docker(env, ["inspect", "--format", "{{.State.ExitCode}}", worker]);
    expect(exit.stdout.trim()).toBe("0");
  });
});

function composeImage(): string {
  const compose = parse(readFileSync(new URL("docker-compose.yml", root), "utf8"), {
    merge: true,
  }) as { services: Record<string, { image?: string }> };
  const image = compose.services.worker?.image;
  if (!image) throw new Error("docker-compose.yml names no image for the worker");
  return image;
}

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
