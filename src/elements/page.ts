// A page as the client hands it on, whichever endpoint sent it: the body parsed with the
// endpoint's documented numbers read as numbers, the envelope checked, and the envelope's
// fields outside the documented set named. Also the safe excerpt of an error body.
import { ERROR_BODY_BYTES, parseJsonBody, readUpTo } from "./body.ts";
import { ElementsApiError } from "./errors.ts";
import { JOB_NUMBER_FIELDS } from "./jobs-payload.ts";
import {
  describeIssues,
  ENVELOPE_NUMBER_FIELDS,
  NUMBER_FIELDS,
  pageEnvelopeSchema,
  type PageEnvelope,
} from "./payload.ts";
import { redactSecrets } from "./redact.ts";
import type { ResourceName } from "./resources.ts";
import { isObject } from "../values.ts";

/** A page as the client hands it on: the envelope, and what the sync needs of its body. */
export interface Page extends PageEnvelope {
  /** The response body's size: what holding its records may cost (the pipeline's bound). */
  bodyBytes: number;
  /**
   * Fields of the envelope outside the documented set, `<name>` or `metadata.<name>` (the
   * schema drops them): at most MAX_ENVELOPE_FIELDS.
   */
  envelopeFields: readonly string[];
}

/**
 * Per endpoint, the keys whose integers are read as numbers, so their schemas check them;
 * every other integer keeps its exact text (parseJsonBody). Per endpoint because a name
 * means different things: a job's `status` is a code, a customer's would be anything.
 */
const NUMBER_FIELDS_OF: Readonly<Record<ResourceName, ReadonlySet<string>>> = {
  customers: NUMBER_FIELDS,
  // Every field of a product is a string.
  services: ENVELOPE_NUMBER_FIELDS,
  jobs: JOB_NUMBER_FIELDS,
};

/** The envelope's documented keys: any other is a field AvePoint added. */
const ENVELOPE_FIELDS = new Set(Object.keys(pageEnvelopeSchema.shape));
const METADATA_FIELDS = new Set(Object.keys(pageEnvelopeSchema.shape.metadata.shape));

export const MAX_ENVELOPE_FIELDS = 100;

/**
 * Fields of the envelope (beside `data`, whose records the sync checks) outside the
 * documented set, as `<name>` and `metadata.<name>`: the schema drops them, so they are
 * named here or never. At most MAX_ENVELOPE_FIELDS.
 */
function envelopeFieldsOf(body: unknown): string[] {
  if (!isObject(body)) return [];
  const found = Object.keys(body).filter((key) => !ENVELOPE_FIELDS.has(key));
  const { metadata } = body;
  if (isObject(metadata)) {
    found.push(
      ...Object.keys(metadata)
        .filter((key) => !METADATA_FIELDS.has(key))
        .map((key) => `metadata.${key}`),
    );
  }
  return found
    .slice(0, MAX_ENVELOPE_FIELDS)
    .map((name) => name.replaceAll("\u0000", "\\u0000").toWellFormed().slice(0, 200));
}

/** Those of `found` not yet announced, sorted: each once per client, MAX_ENVELOPE_FIELDS in all. */
export function newEnvelopeFields(found: readonly string[], announced: Set<string>): string[] {
  const fresh = found
    .filter((name) => !announced.has(name))
    .slice(0, Math.max(0, MAX_ENVELOPE_FIELDS - announced.size));
  for (const name of fresh) announced.add(name);
  return fresh.sort();
}

/** A 200's body as a page of `resource`; `announce` is told of undocumented envelope fields. */
export function parsePage(
  resource: ResourceName,
  { text, bytes }: { text: string; bytes: number },
  announce: (envelopeFields: readonly string[]) => void,
): Page {
  const body = parseJsonBody(text, "The Elements API", 200, { except: NUMBER_FIELDS_OF[resource] });
  const envelopeFields = envelopeFieldsOf(body);
  announce(envelopeFields);
  const result = pageEnvelopeSchema.safeParse(body);
  if (!result.success) {
    throw new ElementsApiError(
      `The Elements API answered with a body that is not the documented shape (${describeIssues(result.error)}).`,
      { kind: "fatal", status: 200 },
    );
  }
  return { ...result.data, bodyBytes: bytes, envelopeFields };
}

/** A short, safe excerpt of an error body for messages: redacted before it is cut, so no token half survives. */
export async function errorDetail(
  response: Response,
  sentToken: string,
  signal: AbortSignal,
): Promise<string> {
  // Only the start is shown, so a huge error body is not worth reading whole.
  const body = await readUpTo(response, ERROR_BODY_BYTES, signal).catch(() => ({ text: "" }));
  // The token by name too: one that does not look random (hex, say) escapes the pattern.
  const text = redactSecrets(body.text.trim(), [sentToken]);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
