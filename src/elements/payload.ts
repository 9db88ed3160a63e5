// The shapes of the customers endpoint's response. The envelope must match or the run
// fails; records are checked one by one so that one bad record does not sink a run.
import { z } from "zod";

export const pageEnvelopeSchema = z.object({
  data: z.array(z.unknown()),
  metadata: z.object({
    pageIndex: z.number().int().positive().nullish(),
    pageSize: z.number().int().positive().nullish(),
    totalCount: z.number().int().nonnegative(),
  }),
});
export type PageEnvelope = z.infer<typeof pageEnvelopeSchema>;

// PostgreSQL text cannot hold NUL, and codes are stored as integer: a value outside
// either would fail the whole page's insert, so the record is rejected here instead.
const text = z.string().refine((value) => !value.includes("\u0000"), "contains a NUL character");
const id = text.pipe(z.string().min(1));
const optionalText = text.nullish().transform((value) => value ?? null);
const code = z.int32();

export const tenantSchema = z.object({
  id,
  name: optionalText,
});

export const customerSchema = z.object({
  id,
  organization: optionalText,
  ownerEmail: optionalText,
  jobStatus: code,
  countryOrRegion: optionalText,
  managementMode: code,
  // Required: treating a missing list as "no tenants" would mark real tenants removed.
  tenants: z.array(tenantSchema),
});
export type CustomerRecord = z.infer<typeof customerSchema>;

/**
 * Keys of the documented numbers, read as numbers so their schemas check them; every other
 * integer of a page keeps its exact text (parseJsonBody's exactNumbers).
 */
export const NUMBER_FIELDS: ReadonlySet<string> = new Set([
  "pageIndex",
  "pageSize",
  "totalCount",
  "jobStatus",
  "managementMode",
]);

/** The envelope's numbers, which every endpoint's page has (the services endpoint no other). */
export const ENVELOPE_NUMBER_FIELDS: ReadonlySet<string> = new Set([
  "pageIndex",
  "pageSize",
  "totalCount",
]);
export type TenantRecord = z.infer<typeof tenantSchema>;

/** The identity service's answer to a client-credentials token request. */
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  // Some servers send it as a string; absent means the documented one hour.
  expires_in: z
    .union([z.number().nonnegative(), z.string().regex(/^\d+$/).transform(Number)])
    .nullish()
    .transform((seconds) => (seconds ? seconds : 3600)),
});

/** One line naming what is wrong with a record, e.g. `jobStatus: expected number, received string`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join(".") || "(record)"}: ${issue.message}`)
    .join("; ");
}
