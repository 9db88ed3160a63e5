// The documented code lists of the Elements API: the customers endpoint's, and the backup
// jobs endpoint's (elements-api.md, "Backup jobs"). The migrations seed the same values into
// job_status_codes, management_mode_codes and the backup_job_*_codes tables (tests check
// they agree).

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

/** A backup job's `jobType`. */
export const JOB_TYPE_LABELS: ReadonlyMap<number, string> = new Map([
  [0, "Microsoft 365 Scan"],
  [7, "Microsoft 365"],
  [10, "Google Workspace Scan"],
  [11, "Google Workspace"],
  [12, "IaaS + PaaS"],
  [15, "Salesforce"],
  [16, "Dynamics 365"],
]);

/** A backup job's `jobModule`: the list grows (it did in 2026-03 and 2026-04). */
export const JOB_MODULE_LABELS: ReadonlyMap<number, string> = new Map([
  [0, "None"],
  [8, "Archiver"],
  [10, "Retention"],
  [302, "SharePoint Online"],
  [303, "Exchange Online"],
  [304, "Microsoft 365 Groups"],
  [305, "OneDrive"],
  [306, "Project Online"],
  [307, "Exchange Online Public Folder"],
  [308, "Microsoft Teams"],
  [309, "Teams Chat"],
  [310, "Power BI"],
  [311, "Power Automate"],
  [312, "Power Apps"],
  [355, "Cloud Backup for Azure"],
  [356, "Azure Virtual Machine"],
  [357, "Disk"],
  [358, "Microsoft Entra ID"],
  [359, "Storage"],
  [360, "Admin Portal Settings"],
  [361, "Amazon EC2"],
  [362, "Native Azure SQL Backup Monitoring"],
  [363, "Dev Ops"],
  [364, "Microsoft Entra ID B2C"],
  [365, "Azure SQL Backup"],
  [366, "Google Virtual Machine Instance"],
  [367, "Azure VMware Solution"],
  [368, "Microsoft SQL Server in Azure VM"],
  [369, "Google Cloud Storage"],
  [370, "Cosmos DB"],
  [371, "Azure PostgreSQL"],
  [401, "Dynamics 365"],
  [402, "Viva Engage"],
  [501, "Gmail"],
  [502, "Calendar"],
  [503, "Contacts"],
  [504, "Drive"],
  [505, "Shared Drives"],
  [506, "Google Classroom"],
  [507, "Chat"],
  [508, "Google Directory"],
  [550, "Dynamics CRM Backup"],
  [551, "Dynamics Unified Operations Backup"],
]);

/** A backup job's `status` (not a customer's `jobStatus`: another list). */
export const BACKUP_JOB_STATUS_LABELS: ReadonlyMap<number, string> = new Map([
  [0, "None"],
  [1, "Running"],
  [2, "Finished"],
  [3, "Failed"],
  [4, "Finished with exception"],
  [5, "Skipped"],
  [6, "Pending"],
  [7, "Failed to start"],
  [8, "Canceled"],
  [9, "Rejected"],
  [10, "Stopped"],
  [11, "Not scanned"],
  [12, "Disabled"],
  [13, "Not started"],
  [14, "Waiting for configuration"],
]);

/**
 * Backup-job statuses that count as failing: 3 Failed, 4 Finished with exception, 7 Failed
 * to start. reporting.failing_customers, its partial index and NOTIFY_ON job:failed use the
 * same (test/resources-sync.e2e.test.ts holds the view and the notification to this list).
 */
export const FAILING_BACKUP_JOB_STATUSES: readonly number[] = [3, 4, 7];

/** Customers' `jobStatus` and `managementMode`; backup jobs' `jobType`, `jobModule` and `status`. */
export type CodeField =
  "jobStatus" | "managementMode" | "jobType" | "jobModule" | "backupJobStatus";

const LABELS: Record<CodeField, ReadonlyMap<number, string>> = {
  jobStatus: JOB_STATUS_LABELS,
  managementMode: MANAGEMENT_MODE_LABELS,
  jobType: JOB_TYPE_LABELS,
  jobModule: JOB_MODULE_LABELS,
  backupJobStatus: BACKUP_JOB_STATUS_LABELS,
};

/** The label of a code, or `unknown (N)` for a code a newer API version may have added. */
export function codeLabel(field: CodeField, code: number): string {
  return LABELS[field].get(code) ?? `unknown (${code})`;
}

export function isKnownCode(field: CodeField, code: number): boolean {
  return LABELS[field].has(code);
}
