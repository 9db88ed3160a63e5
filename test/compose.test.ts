// There is no Docker engine where the tests run, so the compose file and the Dockerfile are
// checked as text: the services, health checks, dependencies and environment the README
// describes, and an image that runs the same entry point and command the tests run.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  env_file?: { path: string; required?: boolean }[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  stop_grace_period?: string;
  ports?: string[];
}

const compose = parse(read("docker-compose.yml")) as { services: Record<string, Service> };
const { postgres, worker, simulator, "demo-worker": demoWorker } = compose.services;
const documented = new Set(
  [...read(".env.example").matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]),
);
const postgresEnv = postgres?.environment ?? {};

function option(command: string[] | undefined, name: string): string | undefined {
  const index = command?.indexOf(name) ?? -1;
  return index < 0 ? undefined : command?.[index + 1];
}

describe("docker-compose.yml", () => {
  it("runs the worker from the image, configured by .env, after PostgreSQL is healthy", () => {
    expect(worker?.build).toBe(".");
    expect(worker?.command).toEqual(["start"]);
    expect(worker?.env_file).toEqual([{ path: ".env", required: false }]);
    expect(worker?.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(worker?.restart).toBe("on-failure");
    expect(worker?.stop_grace_period).toBe("10s");
    const url = new URL(worker?.environment?.DATABASE_URL ?? "");
    expect(url.hostname).toBe("postgres");
    expect(url.username).toBe(postgresEnv.POSTGRES_USER);
    expect(url.password).toBe(postgresEnv.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${postgresEnv.POSTGRES_DB ?? ""}`);
  });

  it("checks the workers' health on /healthz at the port they serve it on", () => {
    for (const service of [worker, demoWorker]) {
      const port = service?.environment?.HTTP_PORT;
      expect(Number(port)).toBeGreaterThan(0);
      expect(service?.healthcheck?.test.join(" ")).toContain(`http://127.0.0.1:${port}/healthz`);
    }
    expect(postgres?.healthcheck?.test.join(" ")).toContain("pg_isready");
  });

  it("sets only documented variables", () => {
    for (const service of [worker, demoWorker]) {
      for (const name of Object.keys(service?.environment ?? {}))
        expect(documented).toContain(name);
    }
  });

  it("has a demo profile: the simulator and a worker syncing from it into its own database", () => {
    expect(simulator?.profiles).toEqual(["demo"]);
    expect(demoWorker?.profiles).toEqual(["demo"]);
    expect(simulator?.command?.[0]).toBe("simulate");
    // Other containers must reach it, so not on 127.0.0.1 only.
    expect(option(simulator?.command, "--host")).toBe("0.0.0.0");
    const apiUrl = `http://simulator:${option(simulator?.command, "--port") ?? ""}`;
    expect(simulator?.healthcheck?.test.join(" ")).toContain(
      `http://127.0.0.1:${option(simulator?.command, "--port") ?? ""}/`,
    );
    expect(demoWorker?.command).toEqual(["start"]);
    expect(demoWorker?.environment).toMatchObject({
      ELEMENTS_API_URL: apiUrl,
      ELEMENTS_IDENTITY_URL: apiUrl,
      // The simulator's built-in registration (elements-sync simulate --help).
      ELEMENTS_CLIENT_ID: "demo-client",
      ELEMENTS_CLIENT_SECRET: "demo-secret",
      SYNC_ON_START: "true",
    });
    expect(demoWorker?.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      "demo-database": { condition: "service_completed_successfully" },
      simulator: { condition: "service_healthy" },
    });
    const demoDatabase = new URL(demoWorker?.environment?.DATABASE_URL ?? "").pathname.slice(1);
    expect(demoDatabase).not.toBe(postgresEnv.POSTGRES_DB);
    expect(compose.services["demo-database"]?.command?.join(" ")).toContain(
      `CREATE DATABASE ${demoDatabase}`,
    );
    expect(read("src/cli/simulate.ts")).toContain("Client id demo-client, secret demo-secret");
  });
});

describe("Dockerfile", () => {
  const lines = read("Dockerfile")
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  const stages = lines
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => line.startsWith("FROM "));
  const runtime = lines.slice(stages.at(-1)?.index ?? 0);

  it("builds in stages on Node 24 slim", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const { line } of stages) expect(line).toMatch(/^FROM node:24-slim\b/);
  });

  it("installs with npm ci (which generates the Prisma client) and keeps production dependencies only", () => {
    const build = lines.slice(0, stages.at(-1)?.index ?? 0).join("\n");
    expect(build).toMatch(/^RUN npm ci\b/m);
    expect(build).toMatch(/^RUN npm prune --omit=dev\b/m);
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    expect(pkg.scripts.postinstall).toContain("scripts/generate-client.ts");
    // The client is generated into src/, which the runtime stage copies.
    expect(read("prisma/schema.prisma")).toContain(
      'output              = "../src/generated/prisma"',
    );
    for (const path of ["package.json", "node_modules", "prisma", "bin", "src"]) {
      expect(runtime).toContain(
        `COPY --from=build /app/${path} ./${path === "package.json" ? "" : path}`,
      );
    }
  });

  it("runs as a non-root user the same entry point and command the tests run", () => {
    const user = runtime
      .find((line) => line.startsWith("USER "))
      ?.slice(5)
      .trim();
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
    const flags = launcherHeapFlags()
      .map((flag) => `"${flag}", `)
      .join("");
    expect(runtime).toContain(`ENTRYPOINT ["node", ${flags}"bin/elements-sync.js"]`);
    expect(runtime).toContain('CMD ["start"]');
    expect(runtime).toContain("EXPOSE 9464");
    expect(runtime.find((line) => line.startsWith("HEALTHCHECK"))).toContain("/healthz");
  });

  it("needs at run time only packages listed in dependencies", () => {
    const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    for (const file of sourceFiles(new URL("src", root).pathname)) {
      const text = readFileSync(file, "utf8");
      const specs = [
        ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gm),
        ...text.matchAll(/\bimport\("([^"]+)"\)/g),
      ].map((match) => match[1] ?? "");
      for (const spec of specs) {
        if (spec.startsWith(".")) continue;
        if (spec.startsWith("node:")) continue;
        imported.add(
          spec.startsWith("@")
            ? spec.split("/").slice(0, 2).join("/")
            : (spec.split("/")[0] ?? spec),
        );
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    for (const name of imported) expect(Object.keys(pkg.dependencies)).toContain(name);
  });

  it("leaves secrets and local builds out of the build context", () => {
    const ignored = read(".dockerignore").split("\n");
    for (const entry of [".env", "node_modules", "src/generated"]) expect(ignored).toContain(entry);
  });
});

describe("the launcher", () => {
  it("caps the heap from its first line, and that line runs where `env -S` exists", () => {
    expect(launcherHeapFlags()).toEqual(["--max-semi-space-size=4", "--max-old-space-size=1024"]);
    // Run the file itself, as npx does, so the kernel reads the shebang.
    const bin = new URL("node_modules/.bin", root).pathname;
    const help = spawnSync(new URL("bin/elements-sync.js", root).pathname, ["--help"], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
      encoding: "utf8",
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: elements-sync <command>");
  });
});

function launcherHeapFlags(): string[] {
  const shebang = read("bin/elements-sync.js").split("\n")[0] ?? "";
  return shebang.split(" ").filter((word) => word.startsWith("--max-"));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}
