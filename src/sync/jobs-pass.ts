// The backup-jobs pass: for each customer the customers pass saw (or only those whose job
// status ELEMENTS_JOBS_FOR_STATUS names), its jobs, paged, `concurrency` customers at a time
// through the same request gate, each customer's merged in the run's transaction as it
// arrives. A customer whose lookup fails for good after its retries (or answers 404) is named
// and counted, and the pass goes on without changing its jobs; any other failure fails the
// run. A job the API stops listing is left as it is.
import { ElementsApiError, gaveUpRetrying, PermissionMissingError } from "../elements/errors.ts";
import { isKnownCode, type CodeField } from "../elements/codes.ts";
import { JOB_FIELDS, parseJob, type JobRecord } from "../elements/jobs-payload.ts";
import { effectivePageSize, pageCount } from "../elements/paging.ts";
import { JOBS_ENDPOINT } from "../elements/resources.ts";
import { errorMessage } from "../errors.ts";
import { customersForJobs, type ResourceRecord } from "../sql/resources.ts";
import type { JobRow } from "./entities.ts";
import { forEachConcurrently, requestPool, type InFlightLimit, type WorkSource } from "./pool.ts";
import { mergeJobs } from "./resource-merge.ts";
import {
  newFields,
  Occurrences,
  runPass,
  type PassProgress,
  type PassResult,
  type ResourceLedger,
} from "./resource-pass.ts";
import type { RunContext } from "./run-context.ts";

/** Jobs merged at a time: a few statements a batch rather than a few a customer. */
const JOBS_PER_MERGE = 1000;
/** Customers read from the database at a time, as the pass goes. */
const CUSTOMERS_PER_READ = 1000;
/** Failed lookups named in the pass's warning; the rest are counted. */
const NAMED_FAILURES = 10;

interface JobsTally {
  progress: PassProgress;
  customers: number;
  failed: { customerId: string; error: string }[];
  unparsable: Occurrences;
  unknownCodes: Occurrences;
  newFields: Occurrences;
}

export function syncJobs(run: RunContext, ledger: ResourceLedger): Promise<ResourceRecord> {
  return runPass(run, ledger, JOBS_ENDPOINT, (progress) => jobsPass(run, progress));
}

async function jobsPass(run: RunContext, progress: PassProgress): Promise<PassResult> {
  const tally: JobsTally = {
    progress,
    customers: 0,
    failed: [],
    unparsable: new Occurrences(),
    unknownCodes: new Occurrences(),
    newFields: new Occurrences(),
  };
  const customers = new CustomersForJobs(run);
  const merging = new JobsBatch(run);
  // A worker merging a thousand jobs holds no request slot meanwhile.
  const { pool, inFlight } = requestPool(run.options.concurrency, run.signal);
  await forEachConcurrently(customers, pool, async (customerId, signal) => {
    tally.customers += 1;
    const jobs = await fetchJobs(run, { customerId, inFlight }, tally, signal);
    if (jobs !== undefined) await merging.add(jobs.map((job) => ({ customerId, job })));
  });
  await merging.flush();
  tally.unparsable.announce(
    run,
    "backup-job fields that did not parse into their type, stored as NULL",
  );
  tally.unknownCodes.announce(
    run,
    "backup-job codes outside the documented lists, kept with no label",
  );
  tally.newFields.announce(
    run,
    "backup-job fields outside the documented set, kept in source_record",
  );
  return {
    incompleteReason: failedLookups(run, tally),
  };
}

/** The warning and the record's reason when some customers' lookups failed; else null. */
function failedLookups(run: RunContext, tally: JobsTally): string | null {
  const { failed } = tally;
  if (failed.length === 0) return null;
  const named = failed.slice(0, NAMED_FAILURES).map((f) => f.customerId);
  const more = failed.length > named.length ? ` and ${failed.length - named.length} more` : "";
  const reason = `the backup jobs of ${failed.length} of ${tally.customers} customer(s) could not be read (${named.join(", ")}${more})`;
  run.log.warn({ failed: failed.slice(0, NAMED_FAILURES) }, `${reason}; their jobs are unchanged`);
  return reason;
}

/**
 * Every page of one customer's jobs, each job once (its last copy); undefined when the
 * lookup failed for good: counted, and the customer's jobs stay as they are. A permission
 * the registration lacks ends the pass (runPass skips the resource); a stop ends the run.
 */
async function fetchJobs(
  run: RunContext,
  { customerId, inFlight }: { customerId: string; inFlight: InFlightLimit },
  tally: JobsTally,
  signal: AbortSignal,
): Promise<JobRecord[] | undefined> {
  const jobs = new Map<string, JobRecord>();
  let pageSize = run.options.pageSize;
  try {
    let pages = 1;
    for (let pageIndex = 1; pageIndex <= pages; pageIndex += 1) {
      const page = await run.client.fetchResourcePage(
        JOBS_ENDPOINT,
        { pageIndex, pageSize, customerId, slots: inFlight },
        signal,
      );
      const before = jobs.size;
      for (const raw of page.data) takeJob(run, raw, jobs, tally);
      // Later pages are asked for with the size page 1 was served with, for offsets to agree.
      if (pageIndex === 1) pageSize = effectivePageSize(pageSize, page.metadata.pageSize);
      pages = pageCount(page.metadata.totalCount, pageSize);
      // A page that adds no job ends the paging: further ones would be repeats.
      if (pageIndex > 1 && jobs.size === before) break;
    }
  } catch (error) {
    if (signal.aborted || !isLookupFailure(error)) throw error;
    tally.failed.push({ customerId, error: errorMessage(error) });
    return undefined;
  }
  return [...jobs.values()];
}

/**
 * A failure that is this customer's alone: the API answered 404 for it, or its lookup failed
 * for good after its retries. Anything else (a permission refused, the identity service
 * failing, a 400, a body of the wrong shape) would fail every lookup alike: it fails the run.
 */
function isLookupFailure(error: unknown): boolean {
  return (
    error instanceof ElementsApiError &&
    !(error instanceof PermissionMissingError) &&
    error.service === "api" &&
    (error.status === 404 || gaveUpRetrying(error))
  );
}

function takeJob(run: RunContext, raw: unknown, jobs: Map<string, JobRecord>, tally: JobsTally) {
  tally.progress.records += 1;
  const job = parseJob(raw);
  if ("rejected" in job) {
    tally.progress.rejected += 1;
    run.log.warn({ reason: job.rejected }, "backup-job record rejected");
    return;
  }
  for (const field of job.unparsable) tally.unparsable.add(field);
  for (const field of newFields(job.source, JOB_FIELDS)) tally.newFields.add(field);
  const codes: [CodeField, string, number][] = [
    ["jobType", "jobType", job.jobType],
    ["jobModule", "jobModule", job.jobModule],
    ["backupJobStatus", "status", job.status],
  ];
  for (const [field, name, code] of codes) {
    if (!isKnownCode(field, code)) tally.unknownCodes.add(`${name} ${code}`);
  }
  jobs.set(job.jobId, job);
}

/**
 * The jobs of customers whose lookups ended, merged JOBS_PER_MERGE at a time (each customer's
 * whole, so a customer's jobs change together or not at all) while lookups go on.
 */
class JobsBatch {
  readonly #run: RunContext;
  #rows: JobRow[] = [];

  constructor(run: RunContext) {
    this.#run = run;
  }

  async add(rows: readonly JobRow[]): Promise<void> {
    this.#rows.push(...rows);
    if (this.#rows.length >= JOBS_PER_MERGE) await this.flush();
  }

  /** Merges what is held (the pass's end calls it for the rest). */
  async flush(): Promise<void> {
    const rows = this.#rows;
    this.#rows = [];
    if (rows.length === 0) return;
    const { session } = this.#run;
    await session.use((s) => mergeJobs(s, session.input, rows));
  }
}

/**
 * The customers whose jobs the pass asks for, read from the database a thousand at a time
 * as the workers take them (a WorkSource: a promise while the next read is on its way).
 */
class CustomersForJobs implements WorkSource<string> {
  readonly #run: RunContext;
  #buffer: string[] = [];
  #after = "";
  #exhausted = false;
  #reading: Promise<void> | undefined;

  constructor(run: RunContext) {
    this.#run = run;
  }

  next(): IteratorResult<string, undefined> | Promise<void> {
    const id = this.#buffer.shift();
    if (id !== undefined) return { done: false, value: id };
    if (this.#exhausted) return { done: true, value: undefined };
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<void> {
    const { runId, session, options } = this.#run;
    const query = {
      runId,
      statuses: options.jobsForStatus ?? null,
      after: this.#after,
      limit: CUSTOMERS_PER_READ,
    };
    const ids = await session.use((s) => customersForJobs(s, query));
    this.#buffer.push(...ids);
    this.#after = ids.at(-1) ?? this.#after;
    if (ids.length < CUSTOMERS_PER_READ) this.#exhausted = true;
  }
}
