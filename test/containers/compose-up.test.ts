// docker-compose.yml, brought up for real: `--profile demo up` ends with the simulator's
// customers synced into the Compose PostgreSQL, the scheduled worker (`--profile worker`)
// syncs with its database URL and client secret read from Compose secrets, and `down -v`
// leaves nothing behind. Compose runs without the repository's .env, as on a fresh clone.
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { freePort } from "../support/cli.ts";
import { docker, dockerEnv, readyOrUnused, removeLabelled } from "../support/container-engine.ts";

const engine = inject("containerEngine");
const ready = readyOrUnused(engine);
const root = new URL("../../", import.meta.url).pathname;
/** The demo simulator's customers (docker-compose.yml, `simulate --customers`). */
const DEMO_CUSTOMERS = 250;
/** The owner of the image's processes, who must be able to read the secrets' files. */
const NODE_UID = 1000;

interface Compose {
  services: Record<string, { command?: string[] }>;
}

describe.skipIf(!engine.available || ready.compose === null)("docker-compose.yml", () => {
  const compose = ready.compose ?? [];
  const project = `elements-sync-test-${randomBytes(4).toString("hex")}`;
  let secrets = "";
  let emptyEnvFile = "";
  let env: NodeJS.ProcessEnv;
  let postgresPort = 0;

  /** Runs Compose on this project with the given profiles, as a user would. */
  const composeRun = (profiles: string[], args: string[]) =>
    docker(
      env,
      [
        "--project-name",
        project,
        "--file",
        join(root, "docker-compose.yml"),
        "--env-file",
        emptyEnvFile,
        ...profiles.flatMap((profile) => ["--profile", profile]),
        ...args,
      ],
      { command: compose, cwd: root },
    );

  /** The project's containers by service: state, exit code and health. */
  async function containers(): Promise<Record<string, string>> {
    const ids = (
      await docker(env, [
        "ps",
        "--all",
        "--quiet",
        "--filter",
        `label=com.docker.compose.project=${project}`,
      ])
    ).stdout
      .split("\n")
      .filter(Boolean);
    if (ids.length === 0) return {};
    const lines = await docker(env, [
      "inspect",
      "--format",
      '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}',
      ...ids,
    ]);
    return Object.fromEntries(
      lines.stdout
        .trim()
        .split("\n")
        .map((line) => {
          const [service = "", ...state] = line.trim().split(" ");
          return [service, state.join(" ")];
        }),
    );
  }

  beforeAll(async () => {
    secrets = mkdtempSync(join(tmpdir(), "elements-sync-secrets-"));
    emptyEnvFile = join(secrets, "empty.env");
    postgresPort = await freePort();
    writeFileSync(emptyEnvFile, "");
    // The worker's settings, in a file of the kind deploy/compose/worker.env is (not .env, not the
    // shell: Compose passes neither on to it).
    const workerSettings = join(secrets, "compose.env");
    writeFileSync(
      workerSettings,
      [
        "ELEMENTS_API_URL=http://simulator:8080",
        "ELEMENTS_IDENTITY_URL=http://simulator:8080",
        "ELEMENTS_CLIENT_ID=demo-client",
        "SYNC_ON_START=true",
        "",
      ].join("\n"),
    );
    env = {
      ...dockerEnv(ready),
      POSTGRES_PORT: String(postgresPort),
      DEMO_HTTP_PORT: String(await freePort()),
      ELEMENTS_SYNC_SECRETS: secrets,
      ELEMENTS_SYNC_COMPOSE_ENV: workerSettings,
    };
    writeSecret("database_url", "postgresql://elements:elements@postgres:5432/elements\n");
    writeSecret("elements_client_secret", "demo-secret\n");
  });

  afterAll(async () => {
    // What `down -v` left, should a test have stopped half-way.
    await removeLabelled(env, `com.docker.compose.project=${project}`);
    rmSync(secrets, { recursive: true, force: true });
  });

  function writeSecret(name: string, value: string): void {
    const path = join(secrets, name);
    writeFileSync(path, value, { mode: 0o600 });
    // The worker runs as the image's node user; as root here, hand it the file.
    if (process.getuid?.() === 0) chownSync(path, NODE_UID, NODE_UID);
    else writeFileSync(path, value, { mode: 0o644 });
  }

  async function countSynced(database: string): Promise<{ runs: string[]; customers: number }> {
    const client = new pg.Client({
      connectionString: `postgresql://elements:elements@127.0.0.1:${postgresPort}/${database}`,
      connectionTimeoutMillis: 2000,
    });
    try {
      await client.connect();
      const runs = await client.query<{ status: string }>(
        "SELECT status FROM sync_runs ORDER BY id",
      );
      const customers = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM customers",
      );
      return { runs: runs.rows.map((row) => row.status), customers: customers.rows[0]?.n ?? 0 };
    } catch {
      return { runs: [], customers: 0 }; // not migrated or not synced yet
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Runs `check`; should it fail, adds the last log lines of `services` to its error. */
  async function explainedBy(services: string[], check: () => Promise<void>): Promise<void> {
    try {
      await check();
    } catch (error) {
      const logs = await composeRun(
        ["demo", "worker"],
        ["logs", "--no-color", "--tail", "15", ...services],
      )
        .then((result) => result.stdout)
        .catch((failure: unknown) => String(failure));
      throw new Error(`${String(error)}\n--- logs of ${services.join(", ")}:\n${logs}`, {
        cause: error,
      });
    }
  }

  it("--profile demo syncs the simulator into the Compose PostgreSQL, starting no scheduled worker", async () => {
    const file = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), {
      merge: true,
    }) as Compose;
    expect(file.services.simulator?.command).toContain(String(DEMO_CUSTOMERS));

    const started = performance.now();
    await composeRun(["demo"], ["up", "--detach", "--build"]);
    await explainedBy(["demo-worker"], async () => {
      await expect
        .poll(() => countSynced("elements_demo"), { timeout: 120_000, interval: 500 })
        .toEqual({ runs: ["succeeded"], customers: DEMO_CUSTOMERS });
    });
    await expect.poll(containers, { timeout: 60_000, interval: 500 }).toEqual({
      postgres: "running 0 healthy",
      simulator: "running 0 healthy",
      "demo-database": "exited 0",
      "demo-worker": "running 0 healthy",
    });
    console.info(
      `compose: demo up and synced in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  });

  it("--profile worker syncs with its database URL and client secret read from Compose secrets", async () => {
    await composeRun(["demo", "worker"], ["up", "--detach", "worker"]);
    await explainedBy(["worker"], async () => {
      await expect
        .poll(() => countSynced("elements"), { timeout: 90_000, interval: 500 })
        .toEqual({ runs: ["succeeded"], customers: DEMO_CUSTOMERS });
    });
    await expect
      .poll(async () => (await containers()).worker, { timeout: 60_000, interval: 500 })
      .toBe("running 0 healthy");
    // The secrets reached the worker as files only, never as environment variables.
    const id = (await composeRun(["demo", "worker"], ["ps", "--quiet", "worker"])).stdout.trim();
    const workerEnv = (await docker(env, ["inspect", "--format", "{{json .Config.Env}}", id]))
      .stdout;
    expect(workerEnv).toContain("DATABASE_URL_FILE=/run/secrets/database_url");
    expect(workerEnv).toContain("ELEMENTS_CLIENT_SECRET_FILE=/run/secrets/elements_client_secret");
    expect(workerEnv).not.toContain("demo-secret");
    expect(workerEnv).not.toContain("elements:elements@");
  });

  it("down -v removes every container, network and volume it made", async () => {
    await composeRun(["demo", "worker"], ["down", "--volumes", "--remove-orphans"]);
    const left = async (kind: string) =>
      (
        await docker(env, [
          kind,
          "ls",
          "--quiet",
          "--filter",
          `label=com.docker.compose.project=${project}`,
        ])
      ).stdout.trim();
    expect(await containers()).toEqual({});
    expect(await left("volume")).toBe("");
    expect(await left("network")).toBe("");
  });
});
