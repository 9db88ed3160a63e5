// The container tests: `npx vitest run --config vitest.containers.config.ts`.
// First scripts/container-engine.sh readies an engine (Podman where there is no Docker).
// Then two projects run side by side:
// - "containers": the image built and run, and Compose brought up (test/containers/), one
//   file at a time, since both build the image;
// - "testcontainers": database-backed test files against a Testcontainers PostgreSQL only,
//   the branch of test/support/global-setup.ts that users with Docker take.
// When no engine can be readied the container tests are skipped, saying why, and the
// database-backed files are left to the main run.
import { defineConfig } from "vitest/config";
import { readyContainerEngine } from "./test/support/container-engine.ts";

/** Database-backed files that cover migrations, syncs, the views and the BI role. */
const ON_TESTCONTAINERS = [
  "test/migrations.test.ts",
  "test/readme.test.ts",
  "test/reporting.test.ts",
  "test/bi-access.test.ts",
];

export default defineConfig(async () => {
  const engine = await readyContainerEngine();
  if (!engine.available)
    console.warn(`container tests: skipped: no container engine: ${engine.reason}`);
  const containers = {
    extends: true,
    test: {
      name: "containers",
      include: ["test/containers/*.test.ts"],
      exclude: engine.available ? ["test/containers/testcontainers.test.ts"] : [],
      fileParallelism: false,
      // A build, a Compose project coming up: minutes on a busy 2-core machine.
      testTimeout: 300_000,
    },
  };
  const testcontainers = {
    extends: true,
    test: {
      name: "testcontainers",
      include: [...ON_TESTCONTAINERS, "test/containers/testcontainers.test.ts"],
      globalSetup: ["test/support/testcontainers-setup.ts"],
    },
  };
  return {
    test: {
      reporters: ["default", "./test/support/count-reporter.ts"],
      provide: { containerEngine: engine },
      testTimeout: 60_000,
      hookTimeout: 600_000,
      maxWorkers: 2,
      projects: engine.available ? [containers, testcontainers] : [containers],
    },
  };
});
