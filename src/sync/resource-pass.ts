// What the passes over services and backup jobs share: each one's record for the run
// (outcome, requests, records), skipping a resource whose permission the app registration
// lacks, and announcing what a pass met once, with counts, instead of once per record.
import { PermissionMissingError } from "../elements/errors.ts";
import type { ElementsClient } from "../elements/client.ts";
import type { Endpoint, ResourceName } from "../elements/resources.ts";
import { savepoint } from "../db.ts";
import type { ResourceRecord } from "../sql/resources.ts";
import type { RunContext } from "./run-context.ts";
import { storableText } from "./runs.ts";

/** What a pass found, for its record (its counts are in its PassProgress). */
export interface PassResult {
  /** Null when the pass got everything it should; otherwise why not. */
  incompleteReason: string | null;
}

/**
 * Runs a resource's pass, within a savepoint, and makes its record. A permission the
 * registration lacks (403 from the endpoint, invalid_scope from the identity service) skips
 * the resource for this run, whatever the pass had merged undone, with one warning naming
 * what to grant; any other failure fails the run.
 */
export async function runPass(
  run: RunContext,
  ledger: ResourceLedger,
  endpoint: Endpoint,
  pass: (progress: PassProgress) => Promise<PassResult>,
): Promise<ResourceRecord> {
  const { resource } = endpoint;
  const requests = () => ledger.requests(resource);
  const progress = ledger.begin(resource);
  const { session } = run;
  // A pass refused part-way is undone whole: a skipped resource's data stays as it was.
  const undoable = await session.use((s) => savepoint(s, "resource_pass"));
  try {
    const { incompleteReason: reason } = await pass(progress);
    await session.use(() => undoable.keep());
    const outcome = reason === null ? "complete" : "partial";
    return { resource, outcome, reason, requests: requests(), ...progress.counts() };
  } catch (error) {
    if (!(error instanceof PermissionMissingError) || run.signal.aborted) throw error;
    // Refused part-way: what the pass merged before is taken back, not left half done.
    await session.use(() => undoable.undo());
    const reason = `the app registration lacks the permission ${error.permission}`;
    run.log.warn(
      { resource, permission: error.permission },
      `${resource} skipped: ${reason}; grant ${error.permission} to the app registration in Elements to sync them`,
    );
    return { resource, outcome: "skipped", reason, requests: requests(), ...progress.counts() };
  }
}

/** The run's resource records as its passes end, and the pass under way. */
export class ResourceLedger {
  readonly #client: ElementsClient;
  readonly #atStart: Readonly<Record<ResourceName, number>>;
  readonly #records: ResourceRecord[] = [];
  #current: { resource: ResourceName; progress: PassProgress } = {
    resource: "customers",
    progress: new PassProgress(),
  };

  /** Call when the run starts: requests are counted from here. */
  constructor(client: ElementsClient) {
    this.#client = client;
    this.#atStart = client.requestsMade();
  }

  /** API requests for `resource` since the run started, retries included. */
  requests(resource: ResourceName): number {
    return this.#client.requestsMade()[resource] - this.#atStart[resource];
  }

  /** A pass starts: what it counts goes into the returned progress. */
  begin(resource: ResourceName): PassProgress {
    this.#current = { resource, progress: new PassProgress() };
    return this.#current.progress;
  }

  end(record: ResourceRecord): ResourceRecord {
    this.#records.push(record);
    return record;
  }

  get records(): readonly ResourceRecord[] {
    return this.#records;
  }

  /**
   * What a failed run records: the passes that ended, and the one under way as partial.
   * `customers`: what the customers pass had seen (its counts live in the pipeline).
   */
  atFailure(
    reason: string,
    customers: Pick<ResourceRecord, "records" | "rejected">,
  ): ResourceRecord[] {
    const { resource, progress } = this.#current;
    if (this.#records.some((record) => record.resource === resource)) return [...this.#records];
    const underWay: ResourceRecord = {
      resource,
      outcome: "partial",
      // A failure's message may hold what PostgreSQL text cannot (NUL).
      reason: storableText(reason),
      requests: this.requests(resource),
      ...(resource === "customers" ? customers : progress.counts()),
    };
    return [...this.#records, underWay];
  }
}

/** Records and rejections a pass counted so far (what a skipped pass still reports). */
export class PassProgress {
  records = 0;
  rejected = 0;

  counts(): Pick<ResourceRecord, "records" | "rejected"> {
    return { records: this.records, rejected: this.rejected };
  }
}

/** Kinds an announcement names; a field name is cut to NAME_LENGTH characters. */
const MAX_KINDS = 100;
const NAME_LENGTH = 200;

/**
 * Things a pass meets many times (a field that does not parse, an unknown code), counted by
 * what they are and announced once at the pass's end.
 */
export class Occurrences {
  readonly #counts = new Map<string, number>();
  /** Occurrences of kinds past MAX_KINDS: counted, not named (a hostile API could send many). */
  #more = 0;

  add(what: string): void {
    const known = this.#counts.get(what);
    if (known === undefined && this.#counts.size >= MAX_KINDS) this.#more += 1;
    else this.#counts.set(what, (known ?? 0) + 1);
  }

  /** One warning listing each thing with its count, if there was any. */
  announce(run: RunContext, message: string): void {
    if (this.#counts.size === 0) return;
    const found = Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
    const listed = Object.entries(found)
      .map(([what, n]) => `${what} (${n})`)
      .join(", ");
    const more = this.#more > 0 ? ` and ${this.#more} more` : "";
    run.log.warn({ found }, `${message}: ${listed}${more}`);
  }
}

/** The fields of `record` outside the documented `known` ones (a field AvePoint added). */
export function newFields(
  record: Readonly<Record<string, unknown>>,
  known: readonly string[],
): string[] {
  return Object.keys(record)
    .filter((field) => !known.includes(field))
    .map((field) => field.slice(0, NAME_LENGTH));
}
