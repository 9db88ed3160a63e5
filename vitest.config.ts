import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The container tests need an engine and minutes: vitest.containers.config.ts runs them.
    exclude: ["test/containers/**", "**/node_modules/**"],
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/count-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file makes its own database; two cores make more workers pointless.
    maxWorkers: 2,
  },
});
