// Record-level checks on a fetched page: a record that fails validation is rejected
// (counted and logged with its page and position) while the rest of the run goes on;
// a code outside the documented lists is kept and reported once per run.
import { codeLabel, isKnownCode, type CodeField } from "../elements/codes.ts";
import { customerSchema, describeIssues, type CustomerRecord } from "../elements/payload.ts";
import type { Logger } from "../logger.ts";
import { isObject } from "../values.ts";

export interface RejectedRecord {
  pageIndex: number;
  /** 0-based position in the page's `data` array. */
  position: number;
  id: string | undefined;
  reason: string;
}

export interface CheckedPage {
  accepted: CustomerRecord[];
  rejected: RejectedRecord[];
}

export function checkRecords(pageIndex: number, records: readonly unknown[]): CheckedPage {
  const accepted: CustomerRecord[] = [];
  const rejected: RejectedRecord[] = [];
  records.forEach((record, position) => {
    const result = customerSchema.safeParse(record);
    if (result.success) {
      accepted.push(result.data);
    } else {
      rejected.push({
        pageIndex,
        position,
        id: idOf(record),
        reason: describeIssues(result.error),
      });
    }
  });
  return { accepted, rejected };
}

function idOf(record: unknown): string | undefined {
  const id = isObject(record) ? record.id : undefined;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** Warns once per run for each undocumented (field, code) pair. */
export class UnknownCodeReporter {
  readonly #reported = new Set<string>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  check(records: readonly CustomerRecord[]): void {
    for (const record of records) {
      this.#checkOne("jobStatus", record.jobStatus, record.id);
      this.#checkOne("managementMode", record.managementMode, record.id);
    }
  }

  #checkOne(field: CodeField, code: number, customerId: string): void {
    const key = `${field}:${code}`;
    if (isKnownCode(field, code) || this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#log.warn(
      { field, code, label: codeLabel(field, code), firstCustomerId: customerId },
      `undocumented ${field} code ${code}: kept and labelled unknown`,
    );
  }
}
