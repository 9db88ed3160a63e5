// The bench's child processes. The simulator and every measured sync run apart from the
// driver so that a worker's peak RSS is its own and the driver's bookkeeping never slows
// the run it times; every child is tracked here so that an interrupted bench can stop them
// all rather than leave a simulator listening or a sync writing.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { WorkerJob, WorkerResult } from "./sync-worker.ts";

const ROOT = new URL("..", import.meta.url);
const CLI = new URL("bin/elements-sync.js", ROOT).pathname;
const WORKER = new URL("bench/sync-worker.ts", ROOT).pathname;

/** Children still running, stopped if the bench is interrupted. */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Sends SIGTERM to every child still running. */
export function stopChildren(): void {
  for (const child of children) child.kill("SIGTERM");
}

/** The heap flags on bin/elements-sync.js's first line, so the benchmark runs the sync as users do. */
export function launcherHeapFlags(): string {
  const shebang = readFileSync(CLI, "utf8");
  return (shebang.split("\n")[0] ?? "")
    .split(" ")
    .filter((word) => word.startsWith("--max-"))
    .join(" ");
}

export interface Simulator {
  url: string;
  /** Its process, whose CPU time the report shows apart (cpu.ts). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** `elements-sync simulate` in a child process; resolves once it is listening. */
export function startSimulator(customers: number, latency: number): Promise<Simulator> {
  const child = spawn(
    process.execPath,
    [CLI, "simulate", "--customers", String(customers), "--latency", String(latency)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  track(child);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => {
      reject(new Error(`the simulator exited with ${code}`));
    });
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (!url) return;
      child.stdout.removeAllListeners("data");
      child.stdout.resume();
      resolve({
        url,
        pid: child.pid,
        async stop() {
          child.kill("SIGTERM");
          await exited;
        },
      });
    });
  });
}

/** One measured run in its own process, started with the V8 flags `workerFlags`. */
export function runWorker(job: WorkerJob, workerFlags: readonly string[]): Promise<WorkerResult> {
  const child = spawn(process.execPath, [...workerFlags, WORKER, JSON.stringify(job)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  track(child);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the ${job.mode} worker exited with ${code}`));
      else resolve(JSON.parse(output) as WorkerResult);
    });
  });
}
