// The documented code lists of the Elements customers API. The migration seeds the same
// values into job_status_codes and management_mode_codes (a test checks they agree).

export const JOB_STATUS_LABELS: ReadonlyMap<number, string> = new Map([
  [0, "N/A"],
  [1, "Working"],
  [2, "Failed"],
  [3, "Waiting for Configuration"],
  [4, "Multiple Issues Found"],
  [5, "Finished with Exception"],
  [6, "No Backup Update"],
]);

export const MANAGEMENT_MODE_LABELS: ReadonlyMap<number, string> = new Map([
  [0, "Customer management of tenant"],
  [1, "Partner management of tenant"],
  [2, "To be configured"],
]);

export type CodeField = "jobStatus" | "managementMode";

const LABELS: Record<CodeField, ReadonlyMap<number, string>> = {
  jobStatus: JOB_STATUS_LABELS,
  managementMode: MANAGEMENT_MODE_LABELS,
};

/** The label of a code, or `unknown (N)` for a code a newer API version may have added. */
export function codeLabel(field: CodeField, code: number): string {
  return LABELS[field].get(code) ?? `unknown (${code})`;
}

export function isKnownCode(field: CodeField, code: number): boolean {
  return LABELS[field].has(code);
}
