// The global setup of the "testcontainers" project (vitest.containers.config.ts): the
// branch of global-setup.ts that users with Docker take, and nothing else. No
// TEST_DATABASE_URL, no local server: PostgreSQL comes from Testcontainers on the engine
// scripts/container-engine.sh readied, or the run fails. Afterwards it checks that the
// container is gone, since on Podman Ryuk (Testcontainers' reaper) cannot run.
import type { TestProject } from "vitest/node";
import { docker, dockerEnv } from "./container-engine.ts";
import { startContainerDatabase } from "./global-setup.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const engine = project.getProvidedContext().containerEngine;
  if (!engine.available) throw new Error(`no container engine: ${engine.reason}`);
  // Testcontainers takes its engine and settings from the environment only.
  process.env.DOCKER_HOST = engine.dockerHost;
  if (engine.kind === "podman") process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  const database = await startContainerDatabase();
  project.provide("adminDatabaseUrl", database.url);
  project.provide("databaseSource", database.source);
  console.info(
    `tests: using a Testcontainers PostgreSQL (${database.url.replace(/:[^:@/]*@/, ":***@")})`,
  );
  return async () => {
    await database.stop();
    const left = await docker(dockerEnv(engine), [
      "ps",
      "--all",
      "--quiet",
      "--filter",
      `id=${database.source.containerId}`,
    ]);
    if (left.stdout.trim() !== "") {
      throw new Error(
        `the Testcontainers PostgreSQL ${database.source.containerId} was not removed`,
      );
    }
    console.info("tests: the Testcontainers PostgreSQL was stopped and removed");
  };
}
