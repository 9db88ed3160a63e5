// The real CLI against a hostile server: a test database of its own, the simulator (in this
// process, so a test can queue faults and watch requests) and child processes of
// bin/elements-sync.js pointed at both. close() ends whatever is still running.
import {
  startSimulator,
  type Simulator,
  type SimulatorOptions,
} from "../../src/simulator/server.ts";
import { runCli, simulatorEnv, spawnCli, type CliProcess } from "./cli.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export interface CliRig {
  db: TestDatabase;
  simulator: Simulator;
  /** The CLI's environment: the database, the simulator and its login, then `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Starts a command; close() kills it if it is still running. */
  spawn(args: string[], extra?: Record<string, string>): CliProcess;
  /** Runs a command to its end. */
  run(args: string[], extra?: Record<string, string>): ReturnType<typeof runCli>;
  close(): Promise<void>;
}

export interface CliRigOptions {
  /** Served from memory (default: the simulator's 250 generated customers); may be malformed. */
  customers?: readonly unknown[];
  simulator?: Omit<SimulatorOptions, "dataFile">;
  /** Variables every command of the rig gets (after the database and the simulator's). */
  env?: Record<string, string>;
}

export async function createCliRig(options: CliRigOptions = {}): Promise<CliRig> {
  const db = await createTestDatabase("es_cli");
  // Stopped at the rig's start (unless a test passes its own clock): generated subscriptions
  // renew as days pass, and a test's runs must not see one renew at midnight.
  const startedAt = Date.now();
  const simulator = await startSimulator({ now: () => startedAt, ...options.simulator });
  if (options.customers !== undefined) simulator.setCustomers(options.customers);
  const running = new Set<CliProcess>();
  const env = (extra: Record<string, string> = {}) => ({
    ...simulatorEnv(db.url, simulator.url),
    HTTP_PORT: "0",
    // Customers alone, as the test harness: most files count the customers endpoint's
    // requests; those about services and jobs name them.
    ELEMENTS_RESOURCES: "customers",
    ...options.env,
    ...extra,
  });
  return {
    db,
    simulator,
    env,
    spawn(args, extra) {
      const process = spawnCli(args, env(extra));
      running.add(process);
      void process.exited.then(() => running.delete(process));
      return process;
    },
    run: (args, extra) => runCli(args, env(extra)),
    async close() {
      for (const process of running) {
        process.child.kill("SIGKILL");
        await process.exited;
      }
      await simulator.close();
      await db.drop();
    },
  };
}

/** Resolves with the first of the process's log lines that `matches`, as soon as it is written. */
export async function logLine(
  process: CliProcess,
  matches: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const found = process.logs().find(matches);
    if (found) return found;
    const more = new Promise<"more" | "exited">((resolve) => {
      process.child.stderr?.once("data", () => {
        resolve("more");
      });
      void process.exited.then(() => {
        resolve("exited");
      });
    });
    if ((await more) === "exited") {
      const last = process.logs().find(matches);
      if (last) return last;
      throw new Error(`the process exited without the log line; stderr:\n${process.stderr()}`);
    }
  }
}

/** Every run's status and error, oldest first. */
export function runOutcomes(db: TestDatabase): Promise<{ status: string; error: string | null }[]> {
  return db.query("SELECT status, error FROM sync_runs ORDER BY id");
}

/** The process's log lines with message `msg`. */
export function logged(process: CliProcess, msg: string): Record<string, unknown>[] {
  return process.logs().filter((line) => line.msg === msg);
}
