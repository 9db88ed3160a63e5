// Whether a run saw every customer, and so may mark the ones it did not see as removed.
// Offset paging over a list that changes during the run can skip or repeat records, so
// only an exact, undisturbed count is proof; anything else is an incomplete run.

export interface CompletenessInput {
  /** The ids of a `--customer` run, which never sees everything; null for a full run. */
  customerFilter: readonly string[] | null;
  /** Every distinct totalCount the pages reported. */
  totalCounts: ReadonlySet<number>;
  distinctCustomers: number;
  rejectedRecords: number;
  /** Why paging stopped before the last page totalCount implies; null when it did not. */
  pagingStopped: string | null;
}

export interface Completeness {
  complete: boolean;
  reason: string | null;
}

export function judgeCompleteness(input: CompletenessInput): Completeness {
  const named = input.customerFilter;
  if (named !== null) {
    const reason =
      named.length === 1
        ? `single-customer run (${named.join("")})`
        : `run of ${named.length} named customers (${named.join(", ")})`;
    return { complete: false, reason };
  }
  if (input.totalCounts.size !== 1) {
    return {
      complete: false,
      reason: `totalCount changed during the run (${[...input.totalCounts].join(" → ")})`,
    };
  }
  const [totalCount = 0] = input.totalCounts;
  if (input.pagingStopped !== null) {
    return { complete: false, reason: `paging stopped early: ${input.pagingStopped}` };
  }
  if (input.rejectedRecords > 0) {
    return { complete: false, reason: `${input.rejectedRecords} record(s) rejected` };
  }
  if (input.distinctCustomers < totalCount) {
    return { complete: false, reason: `saw ${input.distinctCustomers} of ${totalCount} customers` };
  }
  return { complete: true, reason: null };
}
