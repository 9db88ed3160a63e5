// What the passes over services and backup jobs share: each one's record for the run
// (outcome, requests, records), skipping a resource whose permission the app registration
// lacks, and announcing what a pass met once, with counts, instead of once per record.
import { PermissionMissingError } from "../elements/errors.ts";
import type { Endpoint } from "../elements/resources.ts";
import type { ResourceRecord } from "../sql/resources.ts";
import type { RunContext } from "./run-context.ts";

/** What a pass found, for its record. */
export interface PassResult {
  /** Null when the pass got everything it should; otherwise why not. */
  incompleteReason: string | null;
  records: number;
  rejected: number;
}

/**
 * Runs a resource's pass and makes its record. A permission the registration lacks (403 from
 * the endpoint, invalid_scope from the identity service) skips the resource for this run
 * with one warning naming what to grant; any other failure fails the run.
 */
export async function runPass(
  run: RunContext,
  endpoint: Endpoint,
  pass: (progress: PassProgress) => Promise<PassResult>,
): Promise<ResourceRecord> {
  const { resource } = endpoint;
  const requestsBefore = run.client.requestsMade()[resource];
  const requests = () => run.client.requestsMade()[resource] - requestsBefore;
  const progress = new PassProgress();
  try {
    const result = await pass(progress);
    const outcome = result.incompleteReason === null ? "complete" : "partial";
    return {
      resource,
      outcome,
      reason: result.incompleteReason,
      requests: requests(),
      ...counts(result),
    };
  } catch (error) {
    if (!(error instanceof PermissionMissingError) || run.signal.aborted) throw error;
    const reason = `the app registration lacks the permission ${error.permission}`;
    run.log.warn(
      { resource, permission: error.permission },
      `${resource} skipped: ${reason}; grant ${error.permission} to the app registration in Elements to sync them`,
    );
    return { resource, outcome: "skipped", reason, requests: requests(), ...progress.counts() };
  }
}

function counts(result: PassResult): Pick<ResourceRecord, "records" | "rejected"> {
  return { records: result.records, rejected: result.rejected };
}

/** Records and rejections a pass counted so far (what a skipped pass still reports). */
export class PassProgress {
  records = 0;
  rejected = 0;

  counts(): Pick<ResourceRecord, "records" | "rejected"> {
    return { records: this.records, rejected: this.rejected };
  }
}

/**
 * Things a pass meets many times (a field that does not parse, an unknown code), counted by
 * what they are and announced once at the pass's end.
 */
export class Occurrences {
  readonly #counts = new Map<string, number>();

  add(what: string): void {
    this.#counts.set(what, (this.#counts.get(what) ?? 0) + 1);
  }

  /** One warning listing each thing with its count, if there was any. */
  announce(run: RunContext, message: string): void {
    if (this.#counts.size === 0) return;
    const found = Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
    const listed = Object.entries(found)
      .map(([what, n]) => `${what} (${n})`)
      .join(", ");
    run.log.warn({ found }, `${message}: ${listed}`);
  }
}
