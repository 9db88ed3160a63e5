// Where a run's CPU time went: the worker's own (process.cpuUsage, reported by the worker),
// the simulator's (its process in /proc) and the rest of the machine's busy time, which on
// the bench's otherwise quiet machine is PostgreSQL's. The simulator stands in for AvePoint's
// servers, so its share is not the product's cost; the report shows it apart.
import { readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc counts CPU time in ticks of 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** A process's user + system CPU time so far, in ms (0 where /proc is not there). */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command name (which may hold spaces) start at field 3: utime is 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The whole machine's busy CPU time so far (every core, idle and iowait excluded), in ms. */
export function machineBusyMs(): number {
  try {
    const [, ...ticks] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
    return ((user + nice + system + irq + softirq + steal) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds of one run, split by who spent them. */
export interface CpuSplit {
  /** The measured sync process (parsing, checking, the pipeline). */
  workerMs: number;
  /** The simulator answering the run's requests. */
  simulatorMs: number;
  /** Everything else that was busy: PostgreSQL, on the bench's quiet machine. */
  otherMs: number;
  /** The worker's CPU time per 1,000 customers synced. */
  workerMsPer1000Customers: number;
}

/** Reads the counters before a run; call the result after it, with the worker's own figure. */
export function startCpuSplit(simulatorPid: number | undefined) {
  const simulatorBefore = processCpuMs(simulatorPid);
  const busyBefore = machineBusyMs();
  return (workerMs: number, customers: number): CpuSplit => {
    const simulatorMs = processCpuMs(simulatorPid) - simulatorBefore;
    const busyMs = machineBusyMs() - busyBefore;
    return {
      workerMs: Math.round(workerMs),
      simulatorMs: Math.round(simulatorMs),
      otherMs: Math.max(0, Math.round(busyMs - workerMs - simulatorMs)),
      workerMsPer1000Customers: customers > 0 ? Math.round((workerMs * 1000) / customers) : 0,
    };
  };
}
