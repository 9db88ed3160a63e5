// The signal handling every long-running command shares (src/worker/shutdown.ts), in a real
// process whose work never finishes: only a second signal or the deadline can end it.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLogLines } from "./support/cli.ts";

const SHUTDOWN = fileURLToPath(new URL("../src/worker/shutdown.ts", import.meta.url));
const LOGGER = fileURLToPath(new URL("../src/logger.ts", import.meta.url));

/** A process that handles signals and then hangs, as a stuck run would. */
function stuckProcess(graceMs: number) {
  const script = `
    const { handleShutdownSignals } = await import(${JSON.stringify(SHUTDOWN)});
    const { createLogger } = await import(${JSON.stringify(LOGGER)});
    const shutdown = handleShutdownSignals(createLogger("info"), ${graceMs});
    shutdown.signal.addEventListener("abort", () => process.stdout.write("aborted\\n"));
    setInterval(() => undefined, 1000);
    process.stdout.write("ready\\n");`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  /**
   * Resolves once the process has written `line` (however long starting takes on a busy
   * machine): the process tells when it is ready, rather than the test guessing.
   */
  const printed = (line: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!stdout.includes(`${line}\n`)) return;
        child.stdout.off("data", check);
        resolve();
      };
      child.stdout.on("data", check);
      check();
    });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => {
    child.on("close", (code) => {
      resolve({ code, at: performance.now() });
    });
  });
  return { child, exited, printed, logs: () => parseLogLines(stderr) };
}

describe("shutdown signals", () => {
  it("aborts at the first signal and exits at once, status 1, at the second", async () => {
    const p = stuckProcess(60_000);
    await p.printed("ready");
    p.child.kill("SIGTERM");
    await p.printed("aborted");
    const sent = performance.now();
    p.child.kill("SIGINT");
    const exit = await p.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - sent).toBeLessThan(5_000);
    expect(p.logs().map((line) => line.msg)).toEqual([
      "received SIGTERM: stopping (send it again to exit at once)",
      "second signal: exiting at once",
    ]);
  });

  it("exits with status 1 when stopping takes longer than the grace period", async () => {
    const p = stuckProcess(300);
    await p.printed("ready");
    p.child.kill("SIGINT");
    const exit = await p.exited;
    expect(exit.code).toBe(1);
    expect(p.logs().map((line) => line.msg)).toEqual([
      "received SIGINT: stopping (send it again to exit at once)",
      "did not stop in time: exiting at once",
    ]);
  });
});
