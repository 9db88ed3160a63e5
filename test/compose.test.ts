// docker-compose.yml and the Dockerfile as text: the services, health checks, profiles,
// secrets, dependencies and environment the README describes, and an image that runs the
// same entry point and command the tests run. test/containers/ builds and runs them for real
// (vitest.containers.config.ts); this file holds what a run cannot show, such as which
// profiles need which files, and runs on every machine.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMMANDS } from "../src/cli/commands.ts";
import { manualText } from "./support/manual.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string | null>;
  env_file?: unknown;
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  stop_grace_period?: string;
  ports?: string[];
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  mem_limit?: string;
}

// `<<` merge keys: the workers share their settings and health check through anchors.
const compose = parse(read("docker-compose.yml"), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};
const services = Object.entries(compose.services);
const {
  postgres,
  worker,
  "worker-certificate": certificateWorker,
  simulator,
  "demo-worker": demoWorker,
} = compose.services;
const documented = new Set(
  [...read(".env.example").matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]),
);
const postgresEnv = postgres?.environment ?? {};
/** Variables the Compose file sets for the workers itself, or takes from secrets. */
const SET_BY_COMPOSE = [
  "NOTIFY_WEBHOOK_URL",
  "DATABASE_URL",
  "DATABASE_URL_FILE",
  "ELEMENTS_CLIENT_SECRET",
  "ELEMENTS_CLIENT_SECRET_FILE",
  "ELEMENTS_CERTIFICATE_PATH",
  "ELEMENTS_CERTIFICATE_PASSPHRASE",
  "ELEMENTS_CERTIFICATE_PASSPHRASE_FILE",
  "HTTP_PORT",
];

function option(command: string[] | undefined, name: string): string | undefined {
  const index = command?.indexOf(name) ?? -1;
  return index < 0 ? undefined : command?.[index + 1];
}

/** The services `docker compose --profile <profiles> up` starts. */
function startedWith(profiles: string[]): [string, Service][] {
  return services.filter(
    ([, service]) => !service.profiles || service.profiles.some((p) => profiles.includes(p)),
  );
}

describe("docker-compose.yml", () => {
  it("runs the worker from the image after PostgreSQL is healthy, in its own profile", () => {
    for (const service of [worker, certificateWorker]) {
      expect(service?.build).toBe(".");
      expect(service?.command).toEqual(["start"]);
      expect(service?.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
      expect(service?.restart).toBe("on-failure");
      expect(service?.stop_grace_period).toBe("10s");
    }
    expect(worker?.profiles).toEqual(["worker"]);
    expect(certificateWorker?.profiles).toEqual(["worker-certificate"]);
  });

  it("reads the workers' settings from deploy/compose/worker.env, never from the command line's .env", () => {
    const settings = read("deploy/compose/worker.env");
    const named = new Set([...settings.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const service of [worker, certificateWorker]) {
      expect(service?.env_file).toEqual([
        "${ELEMENTS_SYNC_COMPOSE_ENV:-./deploy/compose/worker.env}",
      ]);
      // A name without a value would be taken from .env or the shell: there is none.
      const passedOn = Object.entries(service?.environment ?? {}).filter(([, v]) => v === null);
      expect(passedOn).toEqual([]);
      for (const name of Object.keys(service?.environment ?? {})) {
        expect(SET_BY_COMPOSE).toContain(name);
      }
    }
    // Every documented setting but those Compose sets is there to fill in, and no secret is.
    for (const name of documented) {
      if (SET_BY_COMPOSE.includes(name ?? "")) expect(named).not.toContain(name);
      else expect(named).toContain(name);
    }
    expect([...named].filter((name) => !documented.has(name))).toEqual([]);
  });

  it("gives the workers their secrets as Compose secrets, read through the _FILE variables", () => {
    const expected = {
      worker: {
        DATABASE_URL_FILE: "database_url",
        ELEMENTS_CLIENT_SECRET_FILE: "elements_client_secret",
      },
      "worker-certificate": {
        DATABASE_URL_FILE: "database_url",
        ELEMENTS_CERTIFICATE_PATH: "elements_certificate",
        ELEMENTS_CERTIFICATE_PASSPHRASE_FILE: "elements_certificate_passphrase",
      },
    };
    for (const [name, files] of Object.entries(expected)) {
      const service = compose.services[name];
      for (const secret of [
        "DATABASE_URL",
        "ELEMENTS_CLIENT_SECRET",
        "ELEMENTS_CERTIFICATE_PASSPHRASE",
        "NOTIFY_WEBHOOK_URL",
      ])
        expect(service?.environment).not.toHaveProperty(secret);
      expect(service?.secrets?.toSorted()).toEqual(
        [...Object.values(files), "notify_webhook_url"].toSorted(),
      );
      // The webhook URL (it holds a token) only as a file, when notifications are wanted.
      expect(read("deploy/compose/worker.env")).toMatch(
        /^# NOTIFY_WEBHOOK_URL_FILE=\/run\/secrets\/notify_webhook_url$/m,
      );
      for (const [variable, secret] of Object.entries(files)) {
        expect(service?.environment?.[variable]).toBe(`/run/secrets/${secret}`);
        expect(compose.secrets[secret]?.file).toMatch(
          /^\$\{ELEMENTS_SYNC_SECRETS:-\.\/secrets\}\//,
        );
      }
    }
    // Without NOTIFY_WEBHOOK_URL_SECRET, an empty file of the repository, never read.
    const noWebhook = "./deploy/compose/no-notify-webhook";
    expect(compose.secrets.notify_webhook_url?.file).toBe(
      `\${NOTIFY_WEBHOOK_URL_SECRET:-${noWebhook}}`,
    );
    expect(read(noWebhook)).toBe("");
    // The file the manual (docs/operating.md, "Docker") tells users to write holds the Compose
    // PostgreSQL's URL.
    const written = /'(postgresql:\/\/\S+)' > secrets\/database_url/.exec(manualText());
    const url = new URL(written?.[1] ?? "");
    expect(url.hostname).toBe("postgres");
    expect(url.username).toBe(postgresEnv.POSTGRES_USER);
    expect(url.password).toBe(postgresEnv.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${postgresEnv.POSTGRES_DB ?? ""}`);
    for (const ignore of [".gitignore", ".dockerignore"]) {
      expect(read(ignore).split("\n")).toContainEqual(expect.stringMatching(/^secrets\/?$/));
    }
  });

  it("runs the workers read-only, without capabilities or new privileges, memory capped above the heap", () => {
    const oldSpaceMb = Number(
      /--max-old-space-size=(\d+)/.exec(launcherHeapFlags().join(" "))?.[1] ?? 0,
    );
    expect(oldSpaceMb).toBeGreaterThan(0);
    for (const service of [worker, certificateWorker]) {
      expect(service?.read_only).toBe(true);
      expect(service?.tmpfs).toEqual(["/tmp"]);
      expect(service?.cap_drop).toEqual(["ALL"]);
      expect(service?.security_opt).toContain("no-new-privileges:true");
      const limitMb = Number(/^(\d+)m$/.exec(service?.mem_limit ?? "")?.[1] ?? 0);
      expect(limitMb).toBeGreaterThanOrEqual(oldSpaceMb + 256);
    }
  });

  it("starts nothing that needs .env or secrets unless asked for the worker", () => {
    for (const profiles of [[], ["demo"], ["bi"], ["demo", "bi"]]) {
      for (const [name, service] of startedWith(profiles)) {
        expect({ name, secrets: service.secrets }).toEqual({ name, secrets: undefined });
        // A name without a value is taken from .env or the shell; none is needed here.
        const unset = Object.entries(service.environment ?? {}).filter(
          ([, value]) => value === null,
        );
        expect({ name, unset }).toEqual({ name, unset: [] });
      }
    }
  });

  it("keeps to syntax docker-compose 1.29 accepts", () => {
    // env_file with path/required needs Compose 2.24; 1.29 fails on a missing env_file even
    // in a service whose profile is off, so the workers' one is committed and the only one.
    // test/containers/compose-up.test.ts runs 1.29.
    for (const [name, service] of services) {
      if (name === "worker" || name === "worker-certificate") continue;
      expect({ name, envFile: service.env_file }).toEqual({ name, envFile: undefined });
    }
    expect(statSync(new URL("deploy/compose/worker.env", root)).isFile()).toBe(true);
    const yaml = read("docker-compose.yml").replace(/^\s*#.*$/gm, "");
    expect(yaml).not.toMatch(/!reset|!override|^(name|include):/m);
  });

  it("pins every image to a version, the worker's to the package's", () => {
    const pkg = JSON.parse(read("package.json")) as { version: string };
    for (const [name, service] of services) {
      if (service.build)
        expect({ name, image: service.image }).toEqual({
          name,
          image: `elements-sync:${pkg.version}`,
        });
      else expect(`${name}: ${service.image ?? ""}`).toMatch(/^[\w-]+: \S+:v?\d+\.\d+[.\w-]*$/);
    }
    expect(compose.services["demo-database"]?.image).toBe(postgres?.image);
    // The tests' Testcontainers PostgreSQL is Compose's image.
    expect(read("test/support/global-setup.ts")).toContain("composePostgresImage()");
  });

  it("checks the health of every service that keeps running", () => {
    const runOnce = new Set(
      services.flatMap(([, service]) =>
        Object.entries(service.depends_on ?? {})
          .filter(([, dependency]) => dependency.condition === "service_completed_successfully")
          .map(([name]) => name),
      ),
    );
    expect([...runOnce].sort()).toEqual(["demo-database", "grafana-reader"]);
    for (const [name, service] of services) {
      if (runOnce.has(name)) expect(service.restart).toBeUndefined();
      else expect({ name, check: service.healthcheck?.test.length }).toEqual({ name, check: 2 });
    }
  });

  it("checks the workers' health on /healthz at the port they serve it on", () => {
    for (const service of [worker, certificateWorker, demoWorker]) {
      const port = service?.environment?.HTTP_PORT;
      expect(Number(port)).toBeGreaterThan(0);
      expect(service?.healthcheck?.test.join(" ")).toContain(
        `http://127.0.0.1:${port ?? ""}/healthz`,
      );
    }
    expect(postgres?.healthcheck?.test.join(" ")).toContain("pg_isready");
  });

  it("sets only documented variables", () => {
    for (const service of [worker, certificateWorker, demoWorker]) {
      for (const name of Object.keys(service?.environment ?? {})) {
        // X_FILE: the file variant of a documented secret X.
        expect(documented).toContain(name.replace(/_FILE$/, ""));
      }
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
    const demoUrl = new URL(demoWorker?.environment?.DATABASE_URL ?? "");
    expect(demoUrl.hostname).toBe("postgres");
    expect(demoUrl.username).toBe(postgresEnv.POSTGRES_USER);
    expect(demoUrl.password).toBe(postgresEnv.POSTGRES_PASSWORD);
    const demoDatabase = demoUrl.pathname.slice(1);
    expect(demoDatabase).not.toBe(postgresEnv.POSTGRES_DB);
    expect(compose.services["demo-database"]?.command?.join(" ")).toContain(
      `CREATE DATABASE ${demoDatabase}`,
    );
    expect(COMMANDS.simulate?.usage).toContain("Client id demo-client, secret demo-secret");
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

  it("builds in stages on Node 24 slim, pinned to the Node the tests run on", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const lock = JSON.parse(read("package-lock.json")) as {
      packages: Record<string, { version?: string }>;
    };
    const node = lock.packages["node_modules/node"]?.version ?? "";
    expect(node).toMatch(/^24\./);
    for (const { line } of stages)
      expect(line).toMatch(new RegExp(`^FROM node:${node}-bookworm-slim\\b`));
  });

  it("installs with npm ci (which generates the Prisma client) and keeps production dependencies only", () => {
    const build = lines.slice(0, stages.at(-1)?.index ?? 0).join("\n");
    expect(build).toMatch(/^RUN npm ci\b/m);
    expect(build).toMatch(/^RUN npm prune --omit=dev\b/m);
    // --omit=dev alone keeps devDependencies that a dependency names as optional peers
    // (@prisma/client: prisma, typescript), 240 MB of them.
    expect(build).toMatch(/^RUN npm prune .*--omit=optional\b/m);
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
    for (const entry of [".env", "node_modules", "src/generated", "secrets"])
      expect(ignored).toContain(entry);
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
