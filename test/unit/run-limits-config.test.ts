// SYNC_MAX_DURATION_MS: the run's ceiling, read for sync and start.
import { describe, expect, it } from "vitest";
import { readConfig, type Env } from "../../src/config.ts";
import { DEFAULT_MAX_RUN_MS } from "../../src/sync/defaults.ts";
import { ConfigError } from "../../src/errors.ts";

const readRunLimits = (env: Env) => readConfig(env, ["runLimits"]).runLimits;

describe("SYNC_MAX_DURATION_MS", () => {
  it("is six hours by default", () => {
    expect(readRunLimits({})).toEqual({ maxDurationMs: 6 * 60 * 60 * 1000 });
    expect(DEFAULT_MAX_RUN_MS).toBe(21_600_000);
  });

  it("takes milliseconds from one second to seven days", () => {
    expect(readRunLimits({ SYNC_MAX_DURATION_MS: "1000" }).maxDurationMs).toBe(1000);
    expect(readRunLimits({ SYNC_MAX_DURATION_MS: "604800000" }).maxDurationMs).toBe(604_800_000);
    for (const value of ["999", "604800001", "6h", "1.5", "-1"]) {
      expect(() => readRunLimits({ SYNC_MAX_DURATION_MS: value })).toThrow(
        new ConfigError(
          `SYNC_MAX_DURATION_MS must be a number of milliseconds from 1000 to 604800000 (7 days); got "${value}".`,
        ),
      );
    }
  });
});
