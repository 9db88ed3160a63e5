// A backup job as the jobs endpoint sends it (elements-api.md, "Backup jobs"), read into what
// is stored: its key and codes must be there and usable or the job is rejected; every other
// field is typed when it parses and null (named in `unparsable`) when it does not.
import { z } from "zod";
import { FieldReader, keyTextSchema } from "./fields.ts";
import { describeIssues, ENVELOPE_NUMBER_FIELDS } from "./payload.ts";

/** The jobs page's numbers: the envelope's and a job's codes (counts are strings of digits). */
export const JOB_NUMBER_FIELDS: ReadonlySet<string> = new Set([
  ...ENVELOPE_NUMBER_FIELDS,
  "jobType",
  "jobModule",
  "status",
]);

/** What a job cannot be stored without: codes are stored as integer. */
const jobKeySchema = z.object({
  jobId: keyTextSchema,
  jobType: z.int32(),
  jobModule: z.int32(),
  status: z.int32(),
});

/** Every field the documentation lists for a job: any other is new (the jobs pass names it once a run). */
export const JOB_FIELDS: readonly string[] = [
  "jobType",
  "jobModule",
  "status",
  "jobId",
  "name",
  "totalCount",
  "failedCount",
  "successfulCount",
  "skippedCount",
  "warningCount",
  "backupSize",
  "startTime",
  "endTime",
  "jobDuration",
  "lastModifyTime",
];

export interface JobRecord {
  jobId: string;
  jobType: number;
  jobModule: number;
  status: number;
  name: string | null;
  totalCount: number | null;
  failedCount: number | null;
  successfulCount: number | null;
  skippedCount: number | null;
  warningCount: number | null;
  backupSize: string | null;
  jobDuration: string | null;
  startTime: Date | null;
  endTime: Date | null;
  lastModifyTime: Date | null;
  /** The API's names of the fields whose value did not parse into its type (stored as null). */
  unparsable: string[];
  /** The job as the API sent it, every field. */
  source: Readonly<Record<string, unknown>>;
}

/** A `data` item of the jobs endpoint as a JobRecord, or why it cannot be stored. */
export function parseJob(raw: unknown): JobRecord | { rejected: string } {
  const key = jobKeySchema.safeParse(raw);
  if (!key.success) return { rejected: describeIssues(key.error) };
  // The schema takes objects only.
  const source = raw as Readonly<Record<string, unknown>>;
  const read = new FieldReader(source);
  const job: JobRecord = {
    ...key.data,
    name: read.text("name"),
    totalCount: read.count("totalCount"),
    failedCount: read.count("failedCount"),
    successfulCount: read.count("successfulCount"),
    skippedCount: read.count("skippedCount"),
    warningCount: read.count("warningCount"),
    backupSize: read.text("backupSize"),
    jobDuration: read.text("jobDuration"),
    startTime: read.date("startTime"),
    endTime: read.date("endTime"),
    lastModifyTime: read.date("lastModifyTime"),
    unparsable: read.unparsable,
    source,
  };
  return read.problems.length > 0 ? { rejected: read.problems.join("; ") } : job;
}
