// The start-up sync, start and demo share: what it opened, and what a command handed it, is
// closed in one place, last first, once, and also when start-up fails part-way. No server is
// needed: the pool connects lazily, and nothing listens on port 1.
import { describe, expect, it } from "vitest";
import { openApp, type AppPlan, type Instruments } from "../../src/cli/bootstrap.ts";
import { createLogger } from "../../src/logger.ts";

function plan(closed: string[], migrate: boolean): AppPlan<Instruments> {
  return {
    log: createLogger("silent"),
    database: { url: "postgresql://postgres@127.0.0.1:1/nothing" },
    elements: {
      apiUrl: "http://127.0.0.1:1",
      identityUrl: "http://127.0.0.1:1",
      clientId: "client",
      credentials: { kind: "secret", clientSecret: "secret" },
      scope: "scope",
      pageSize: 10,
      timeoutMs: 1000,
      maxAttempts: 1,
      maxRetryTimeMs: 0,
      concurrency: 1,
      maxResponseBytes: 1024 * 1024,
    },
    notify: undefined,
    migrate,
    signals: true,
    closeAfter: [() => closed.push("made first"), () => closed.push("made second")],
  };
}

const signalHandlers = () => process.listenerCount("SIGINT") + process.listenerCount("SIGTERM");

describe("openApp", () => {
  it("closes what the command handed it and frees the signals when migrating fails", async () => {
    const closed: string[] = [];
    const before = signalHandlers();
    await expect(openApp(plan(closed, true))).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toEqual(["made second", "made first"]);
    expect(signalHandlers()).toBe(before);
  });

  it("closes what was deferred first and everything once, stopping on Ctrl-C until then", async () => {
    const closed: string[] = [];
    const before = signalHandlers();
    const app = await openApp(plan(closed, false));
    expect(signalHandlers()).toBe(before + 2);
    app.defer(() => closed.push("deferred"));
    await app.close();
    await app.close();
    expect(closed).toEqual(["deferred", "made second", "made first"]);
    expect(signalHandlers()).toBe(before);
    expect(app.signal.aborted).toBe(false);
  });
});
