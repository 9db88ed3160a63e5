// The container engine the container tests drive with the docker CLI and Compose:
// scripts/container-engine.sh readies one (Podman where there is no Docker engine) and says
// where it answers. readyContainerEngine runs once, from vitest.containers.config.ts; the
// tests get its answer through inject("containerEngine") and run docker with dockerEnv().
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../scripts/container-engine.sh", import.meta.url));

export type ContainerEngine =
  | {
      available: true;
      dockerHost: string;
      /** Podman serves the Docker API but builds only with the classic builder. */
      kind: "docker" | "podman";
      /** How Compose is started: ["docker", "compose"] or ["docker-compose"]; null if neither. */
      compose: string[] | null;
    }
  | { available: false; reason: string };

export type ReadyEngine = Extract<ContainerEngine, { available: true }>;

/**
 * `engine`, or where there is none an engine that answers nowhere: for the body of a
 * `describe.skipIf(!engine.available)` block, which registers its tests (so the output
 * lists them as skipped) but runs none of them.
 */
export function readyOrUnused(engine: ContainerEngine): ReadyEngine {
  if (engine.available) return engine;
  return { available: true, dockerHost: "unix:///nonexistent", kind: "docker", compose: null };
}

declare module "vitest" {
  export interface ProvidedContext {
    containerEngine: ContainerEngine;
  }
}

/** Runs scripts/container-engine.sh (its progress shows on stderr) and reads its answer. */
export async function readyContainerEngine(): Promise<ContainerEngine> {
  const script = spawn("bash", [SCRIPT], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  script.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => script.on("close", resolve));
  const dockerHost = /^DOCKER_HOST=(.+)$/m.exec(stdout)?.[1];
  if (code !== 0 || !dockerHost) {
    return {
      available: false,
      reason: `scripts/container-engine.sh could not ready one (exit ${String(code)}; its message is above)`,
    };
  }
  const env = { ...process.env, DOCKER_HOST: dockerHost };
  const components = await run(
    "docker",
    ["version", "--format", "{{range .Server.Components}}{{.Name}} {{end}}"],
    { env },
  );
  return {
    available: true,
    dockerHost,
    kind: components.stdout.includes("Podman") ? "podman" : "docker",
    compose: await composeCommand(env),
  };
}

async function composeCommand(env: NodeJS.ProcessEnv): Promise<string[] | null> {
  for (const command of [["docker", "compose"], ["docker-compose"]]) {
    const [file = "", ...args] = command;
    try {
      await run(file, [...args, "version"], { env });
      return command;
    } catch {
      // Not installed: try the next.
    }
  }
  return null;
}

/** The environment for docker and Compose commands against `engine`. */
export function dockerEnv(engine: { dockerHost: string; kind: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DOCKER_HOST: engine.dockerHost,
    // Podman's Docker API has no BuildKit; the docker CLI then needs the classic builder.
    ...(engine.kind === "podman" ? { DOCKER_BUILDKIT: "0" } : {}),
  };
}

export interface DockerResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `docker args…` (or another CLI such as docker-compose) to its end; rejects with its
 * output when it fails. `input` is written to its standard input.
 */
export async function docker(
  env: NodeJS.ProcessEnv,
  args: string[],
  options: { command?: string[]; input?: string; cwd?: string } = {},
): Promise<DockerResult> {
  const [file = "docker", ...prefix] = options.command ?? ["docker"];
  const child = spawn(file, [...prefix, ...args], {
    env,
    cwd: options.cwd,
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) {
    throw new Error(
      `${[file, ...prefix, ...args].join(" ")} exited ${String(code)}\n${stdout}\n${stderr}`.trim(),
    );
  }
  return { stdout, stderr };
}

/**
 * Removes every container (with its anonymous volumes), network and volume carrying
 * `label` (key=value): what a test made, also when the test stopped half-way.
 */
export async function removeLabelled(env: NodeJS.ProcessEnv, label: string): Promise<void> {
  const list = async (kind: string[]) =>
    (await docker(env, [...kind, "--quiet", "--filter", `label=${label}`])).stdout
      .split("\n")
      .filter(Boolean);
  const containers = await list(["ps", "--all"]);
  if (containers.length > 0) await docker(env, ["rm", "--force", "--volumes", ...containers]);
  const networks = await list(["network", "ls"]);
  if (networks.length > 0) await docker(env, ["network", "rm", ...networks]);
  const volumes = await list(["volume", "ls"]);
  if (volumes.length > 0) await docker(env, ["volume", "rm", "--force", ...volumes]);
}
