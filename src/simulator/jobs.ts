// The backup jobs endpoint: one customer's jobs as the live documentation shows them
// (elements-api.md, "Backup jobs"). Derived from the customer, deterministically for a seed
// and a day, so that they explain its job status: a customer whose status is Failed,
// Multiple Issues Found or Finished with Exception has at least one failing job.
import { isObject } from "../values.ts";
import { customerBasics, Random, type ServedData } from "./data.ts";
import { badRequest, jsonObjectBody, pageReply, type Paging } from "./http.ts";
import { jsonReply, type Reply } from "./reply.ts";
import { FAILING_BACKUP_JOB_STATUSES } from "../elements/codes.ts";

/** JOBS_PATH as a route: its `{customerId}` is captured. */
const JOBS_ROUTE =
  /^\/partner\/external\/v3\/general\/customers\/([^/]+)\/avpt-products\/jobs\/batch$/;

/** The customer id a path names, when it is the jobs endpoint's. */
export function jobsCustomerId(pathname: string): string | undefined {
  const encoded = JOBS_ROUTE.exec(pathname)?.[1];
  if (encoded === undefined) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** A job in the exact shape the jobs endpoint returns. */
export interface SimulatedJob {
  jobType: number;
  jobModule: number;
  status: number;
  jobId: string;
  name: string;
  totalCount: string;
  failedCount: string;
  successfulCount: string;
  skippedCount: string;
  warningCount: string;
  backupSize: string;
  startTime: string;
  endTime: string;
  jobDuration: string;
  lastModifyTime: string;
}

/** Job statuses (elements-api.md) the generator uses. */
export const JOB = {
  running: 1,
  finished: 2,
  failed: 3,
  finishedWithException: 4,
  skipped: 5,
  failedToStart: 7,
  notStarted: 13,
  waitingForConfiguration: 14,
} as const;
/** The statuses that explain a customer's Failed, Multiple Issues Found or Finished with Exception. */
export const FAILING_JOB_STATUSES = FAILING_BACKUP_JOB_STATUSES;

/** [jobType, jobModule, a name] of the jobs generated: documented codes only. */
const KINDS: readonly [number, number, string][] = [
  [7, 302, "SharePoint Online backup"],
  [7, 303, "Exchange Online backup"],
  [7, 304, "Microsoft 365 Groups backup"],
  [7, 305, "OneDrive backup"],
  [7, 308, "Microsoft Teams backup"],
  [0, 0, "Microsoft 365 scan"],
  [11, 501, "Gmail backup"],
  [11, 504, "Google Drive backup"],
  [12, 356, "Azure VM backup"],
  [12, 358, "Entra ID backup"],
  [15, 0, "Salesforce backup"],
  [16, 401, "Dynamics 365 backup"],
];

const HOUR_MS = 3_600_000;

/**
 * The statuses of a customer's jobs, most recent first, from its job status (customers
 * endpoint codes): Working mostly finished, sometimes running; the failing statuses with
 * their failing jobs; N/A none.
 */
function statusesFor(jobStatus: unknown, random: Random): number[] {
  const count = 2 + random.int(4);
  const usual = () =>
    random.pick([JOB.finished, JOB.finished, JOB.finished, JOB.finished, JOB.running, JOB.skipped]);
  const rest = (n: number) => Array.from({ length: n }, usual);
  switch (jobStatus) {
    case 0:
      return [];
    case 2:
      return [JOB.failed, ...rest(count - 1)];
    case 3:
      return [random.pick([JOB.waitingForConfiguration, JOB.notStarted])];
    case 4:
      return [
        JOB.failed,
        random.pick([JOB.failedToStart, JOB.finishedWithException]),
        ...rest(count - 2),
      ];
    case 5:
      return [JOB.finishedWithException, ...rest(count - 1)];
    case 6:
      return Array.from({ length: count }, () => JOB.finished);
    default:
      return rest(count);
  }
}

function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return `${hours > 0 ? `${hours}h` : ""}${minutes}m${seconds % 60}s`;
}

/** A customer's jobs, most recent first; undefined for a record without a string id. */
export function generateJobs(
  record: unknown,
  seed: number,
  today: number,
): SimulatedJob[] | undefined {
  const customer = customerBasics(record);
  if (customer === undefined) return undefined;
  const random = Random.forCustomer(seed, `jobs:${customer.id}`);
  // No Backup Update: nothing ran for a week and more.
  const latest = today - (customer.jobStatus === 6 ? 8 * 24 : 1) * HOUR_MS;
  return statusesFor(customer.jobStatus, random).map((status, index) => {
    const [jobType, jobModule, name] = random.pick(KINDS);
    const start = latest - index * 24 * HOUR_MS - random.int(6 * HOUR_MS);
    const took = 60_000 + random.int(2 * HOUR_MS);
    const unfinished =
      status === JOB.running || status === JOB.notStarted || status === JOB.waitingForConfiguration;
    // A job that failed to start processed nothing.
    const total = unfinished || status === JOB.failedToStart ? 0 : 100 + random.int(5000);
    const failed =
      status === JOB.failed || status === JOB.finishedWithException
        ? 1 + random.int(Math.max(1, Math.floor(total / 10)))
        : 0;
    const skipped = status === JOB.skipped ? total - failed : random.int(3);
    const warnings = unfinished ? 0 : random.int(4);
    let jobId = "FB";
    for (let i = 0; i < 20; i++) jobId += "0123456789ABCDEF"[random.int(16)] ?? "0";
    return {
      jobType,
      jobModule,
      status,
      jobId,
      name: random.int(4) === 0 ? "N/A" : name,
      totalCount: String(total),
      failedCount: String(failed),
      successfulCount: String(Math.max(0, total - failed - skipped)),
      skippedCount: String(Math.min(skipped, total)),
      warningCount: String(warnings),
      backupSize: unfinished ? "0 GB" : `${(random.int(5000) / 10).toFixed(1)} GB`,
      startTime:
        status === JOB.notStarted || status === JOB.waitingForConfiguration ? "N/A" : iso(start),
      endTime: unfinished ? "N/A" : iso(start + took),
      jobDuration: unfinished ? "N/A" : duration(took),
      lastModifyTime: iso(start + (unfinished ? 0 : took) + 1000),
    };
  });
}

/** Each list's customers by id, built once per list: one request per customer stays cheap. */
const INDEXES = new WeakMap<readonly unknown[], ReadonlyMap<string, unknown>>();

function customersById(customers: readonly unknown[]): ReadonlyMap<string, unknown> {
  let index = INDEXES.get(customers);
  if (index === undefined) {
    const built = new Map<string, unknown>();
    for (const record of customers) {
      const id = customerBasics(record)?.id;
      // The first of duplicated ids answers, as a list lookup would.
      if (id !== undefined && !built.has(id)) built.set(id, record);
    }
    INDEXES.set(customers, (index = built));
  }
  return index;
}

/**
 * A page of one customer's jobs, optionally only those of a `jobType` and a `jobModule`;
 * 404 for a customer the customers endpoint does not list. The data file's `jobs` when it
 * has them (a customer it leaves out has none), else the jobs derived from the customer.
 */
export function jobsAnswer(
  data: ServedData,
  customerId: string,
  body: string,
  paging: Paging,
  seed: number,
  today: number,
): Reply {
  const filters = jsonObjectBody(body);
  if (typeof filters === "string") return badRequest(filters);
  for (const field of ["jobType", "jobModule"] as const) {
    const value = filters[field];
    if (value !== undefined && value !== null && !Number.isSafeInteger(value))
      return badRequest(`${field} must be an integer`);
  }
  const customer = customersById(data.customers).get(customerId);
  if (customer === undefined) {
    return jsonReply(404, { error: "not_found", message: `no customer ${customerId}` });
  }
  const all =
    data.jobs === undefined
      ? (generateJobs(customer, seed, today) ?? [])
      : (data.jobs[customerId] ?? []);
  const jobs = all.filter(
    (job) =>
      (filters.jobType == null || (isObject(job) && job.jobType === filters.jobType)) &&
      (filters.jobModule == null || (isObject(job) && job.jobModule === filters.jobModule)),
  );
  return pageReply(paging, jobs.length, (start, end) => jobs.slice(start, end));
}
