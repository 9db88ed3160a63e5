// Where a run's CPU time went: the worker's own (process.cpuUsage, reported by the worker),
// the simulator's (its process in /proc), PostgreSQL's for the run (the server processes
// serving the bench's database, read from /proc while they live) and the rest of the
// machine's busy time (PostgreSQL's shared processes, and anything else running). The
// simulator stands in for AvePoint's servers, so its share is not the product's cost; the
// report shows it apart.
import { readFileSync } from "node:fs";
import pg from "pg";

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
  /** The PostgreSQL processes serving the run's database (its sessions, autovacuum). */
  postgresMs: number;
  /** The rest of the machine's busy time: PostgreSQL's shared processes, anything else. */
  otherMs: number;
  /** The worker's CPU time per 1,000 customers synced. */
  workerMsPer1000Customers: number;
}

/** How often the server processes of the run's database are read: a process's last 250 ms may be missed. */
const SAMPLE_MS = 250;

/**
 * Starts counting before a run: `adminUrl` reaches the server (its own database, so that
 * counting is not itself counted), `database` is the run's. Call the result after the run,
 * with the worker's own figure.
 */
export async function startCpuSplit(
  simulatorPid: number | undefined,
  adminUrl: string,
  database: string,
) {
  const simulatorBefore = processCpuMs(simulatorPid);
  const busyBefore = machineBusyMs();
  const postgres = await watchServerProcesses(adminUrl, database);
  return async (workerMs: number, customers: number): Promise<CpuSplit> => {
    const postgresMs = await postgres.stop();
    const simulatorMs = processCpuMs(simulatorPid) - simulatorBefore;
    const busyMs = machineBusyMs() - busyBefore;
    return {
      workerMs: Math.round(workerMs),
      simulatorMs: Math.round(simulatorMs),
      postgresMs: Math.round(postgresMs),
      otherMs: Math.max(0, Math.round(busyMs - workerMs - simulatorMs - postgresMs)),
      workerMsPer1000Customers: customers > 0 ? Math.round((workerMs * 1000) / customers) : 0,
    };
  };
}

/**
 * Reads, every SAMPLE_MS, the CPU time of each server process connected to `database`;
 * stop() returns what they spent during the run.
 */
async function watchServerProcesses(adminUrl: string, database: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  // Processes there before the run (none, as each run opens its own pool) count from then;
  // those that start during it, from their start.
  let before = true;
  const sample = async () => {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [database],
    );
    for (const { pid } of rows) {
      const ms = processCpuMs(pid);
      if (!first.has(pid)) first.set(pid, before ? ms : 0);
      last.set(pid, ms);
    }
  };
  await sample();
  before = false;
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(sample, () => undefined);
  }, SAMPLE_MS);
  return {
    async stop(): Promise<number> {
      clearInterval(timer);
      await sampling.catch(() => undefined);
      await client.end();
      let total = 0;
      for (const [pid, ms] of last) total += ms - (first.get(pid) ?? ms);
      return total;
    },
  };
}
