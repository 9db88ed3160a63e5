// Whether a run saw every customer, and so may mark the ones it did not see as removed.
// Offset paging over a list that changes during the run can skip or repeat records, so
// only an exact, undisturbed count is proof; anything else is an incomplete run.

export interface CompletenessInput {
  /** Set for single-customer runs, which never see everything. */
  customerFilter: string | null;
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
  if (input.customerFilter !== null) {
    return { complete: false, reason: `single-customer run (${input.customerFilter})` };
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
