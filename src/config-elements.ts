// The Elements settings (ELEMENTS_*): where the API is, who asks and how requests are paced
// (the `elements` concern), and what a run syncs (the `resources` concern). config.ts
// gathers them with the other concerns.
import { z } from "zod";
import {
  concern,
  hasCredentials,
  integer,
  variable,
  type RawValues,
  type ValuesOf,
} from "./config-reader.ts";
import { didYouMean } from "./suggest.ts";
import type { Credentials } from "./elements/auth.ts";
import { DEFAULT_MAX_RESPONSE_BYTES, heapProblem } from "./elements/body.ts";
import { JOB_STATUS_LABELS } from "./elements/codes.ts";
import type { ElementsConfig } from "./elements/from-config.ts";
import { DATA_CENTER_CODES, REGIONS, regionHosts } from "./elements/regions.ts";
import {
  CUSTOMERS_PERMISSION,
  isResourceName,
  RESOURCE_NAMES,
  type ResourceName,
} from "./elements/resources.ts";
import { DEFAULT_CONCURRENCY } from "./sync/defaults.ts";
import type { SyncOptions } from "./sync/sync.ts";

/** An optional API or identity URL; one that may hold credentials is not echoed. */
const hostUrl = () =>
  variable(
    z
      .url({ protocol: /^https?$/ })
      // Credentials in the URL would show up in every message that names the host.
      .refine((url) => !hasCredentials(url))
      .transform((url) => url.replace(/\/+$/, ""))
      .optional(),
    {
      expects: "an http(s) URL without a user name or password",
      secret: "if it holds credentials",
    },
  );

const region = z.enum(REGIONS);

const elementsVariables = {
  // Any case: AvePoint writes "FedRAMP" and "AOS2".
  ELEMENTS_REGION: variable(z.string().trim().toLowerCase().pipe(region).default("commercial"), {
    expects: `"commercial" (the default), "gov", "aos2", "fedramp" or a data-center code (${DATA_CENTER_CODES.join(", ")})`,
  }),
  ELEMENTS_API_URL: hostUrl(),
  ELEMENTS_IDENTITY_URL: hostUrl(),
  ELEMENTS_CLIENT_ID: variable(z.string().trim().min(1), {
    expects: "the app registration's client (application) id",
  }),
  ELEMENTS_CLIENT_SECRET: variable(z.string().optional(), {
    expects: "the app registration's client secret",
    secret: true,
    fromFile: true,
  }),
  ELEMENTS_CERTIFICATE_PATH: variable(z.string().optional(), {
    expects: "a PEM file with the certificate and its private key",
  }),
  ELEMENTS_CERTIFICATE_PASSPHRASE: variable(z.string().optional(), {
    expects: "the passphrase of the certificate's private key",
    secret: true,
    fromFile: true,
  }),
  ELEMENTS_SCOPE: variable(z.string().trim().min(1).default(CUSTOMERS_PERMISSION), {
    expects: "a non-empty scope",
  }),
  ELEMENTS_PAGE_SIZE: variable(integer(1, 1000).default(100), {
    expects: "an integer from 1 to 1000 (the API documents 100 as its maximum)",
  }),
  ELEMENTS_TIMEOUT_MS: variable(integer(100, 600_000).default(30_000), {
    expects: "a number of milliseconds from 100 to 600000",
  }),
  ELEMENTS_MAX_ATTEMPTS: variable(integer(1, 20).default(6), {
    expects: "an integer from 1 to 20",
  }),
  ELEMENTS_MAX_RETRY_TIME_MS: variable(integer(0, 3_600_000).default(300_000), {
    expects: "a number of milliseconds from 0 to 3600000",
  }),
  ELEMENTS_CONCURRENCY: variable(integer(1, 32).default(DEFAULT_CONCURRENCY), {
    expects: "an integer from 1 to 32 (pages fetched at the same time)",
  }),
  ELEMENTS_MAX_RESPONSE_BYTES: variable(
    integer(1024, 2 ** 31 - 1).default(DEFAULT_MAX_RESPONSE_BYTES),
    { expects: "a number of bytes from 1024 to 2147483647" },
  ),
};

type ElementsValues = ValuesOf<typeof elementsVariables>;

/** The certificate or the secret; the rule below has made sure there is exactly one. */
function credentials(values: ElementsValues): Credentials {
  const { ELEMENTS_CLIENT_SECRET: secret, ELEMENTS_CERTIFICATE_PATH: certificatePath } = values;
  if (certificatePath !== undefined) {
    const passphrase = values.ELEMENTS_CERTIFICATE_PASSPHRASE;
    return { kind: "certificate", certificatePath, passphrase };
  }
  if (secret === undefined) throw new Error("unreachable: no credentials passed the rule");
  return { kind: "secret", clientSecret: secret };
}

export const elements = concern(
  elementsVariables,
  (values): ElementsConfig => {
    const hosts = regionHosts(values.ELEMENTS_REGION);
    return {
      apiUrl: values.ELEMENTS_API_URL ?? hosts.apiUrl,
      identityUrl: values.ELEMENTS_IDENTITY_URL ?? hosts.identityUrl,
      clientId: values.ELEMENTS_CLIENT_ID,
      credentials: credentials(values),
      scope: values.ELEMENTS_SCOPE,
      pageSize: values.ELEMENTS_PAGE_SIZE,
      timeoutMs: values.ELEMENTS_TIMEOUT_MS,
      maxAttempts: values.ELEMENTS_MAX_ATTEMPTS,
      maxRetryTimeMs: values.ELEMENTS_MAX_RETRY_TIME_MS,
      concurrency: values.ELEMENTS_CONCURRENCY,
      maxResponseBytes: values.ELEMENTS_MAX_RESPONSE_BYTES,
      hostVariables: {
        api: values.ELEMENTS_API_URL === undefined ? "ELEMENTS_REGION" : "ELEMENTS_API_URL",
        identity:
          values.ELEMENTS_IDENTITY_URL === undefined ? "ELEMENTS_REGION" : "ELEMENTS_IDENTITY_URL",
      },
    };
  },
  [
    ({ ELEMENTS_CLIENT_SECRET: secret, ELEMENTS_CERTIFICATE_PATH: certificatePath }) => {
      if (secret !== undefined && certificatePath !== undefined) {
        return {
          variable: "ELEMENTS_CERTIFICATE_PATH",
          problem: "Set either ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH, not both.",
        };
      }
      if (secret === undefined && certificatePath === undefined) {
        return {
          variable: "ELEMENTS_CLIENT_SECRET",
          problem:
            "ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH must be set: the app registration's client secret, or a PEM file with its certificate and private key.",
        };
      }
      return undefined;
    },
    fitsTheHeap,
  ],
);

/**
 * Pages at the response cap, as many as a run holds at once, must fit in the heap: otherwise a
 * broken or hostile server can make the process abort out of memory instead of failing a run.
 */
function fitsTheHeap(raw: {
  ELEMENTS_MAX_RESPONSE_BYTES?: string;
  ELEMENTS_CONCURRENCY?: string;
}): { variable: "ELEMENTS_MAX_RESPONSE_BYTES"; problem: string } | undefined {
  // Values out of their ranges are reported by their own schemas.
  const maxBytes = elementsVariables.ELEMENTS_MAX_RESPONSE_BYTES.schema.safeParse(
    raw.ELEMENTS_MAX_RESPONSE_BYTES,
  );
  const concurrency = elementsVariables.ELEMENTS_CONCURRENCY.schema.safeParse(
    raw.ELEMENTS_CONCURRENCY,
  );
  if (!maxBytes.success || !concurrency.success) return undefined;
  const problem = heapProblem(maxBytes.data, concurrency.data);
  return problem === undefined ? undefined : { variable: "ELEMENTS_MAX_RESPONSE_BYTES", problem };
}

/** What a run syncs: SyncOptions' `resources` and `jobsForStatus`. */
export interface ResourcesConfig {
  resources: NonNullable<SyncOptions["resources"]>;
  /** Undefined: every present customer's jobs. */
  jobsForStatus: SyncOptions["jobsForStatus"];
}

const RESOURCES_LIST = RESOURCE_NAMES.join(", ");

/**
 * ELEMENTS_RESOURCES as the run order (customers, services, jobs, whatever order it lists
 * them in), or what is wrong with it.
 */
export function parseResources(list: string): ResourceName[] | string {
  const named = new Set<ResourceName>();
  for (const entry of list.split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    const name = entry.toLowerCase();
    if (!isResourceName(name)) {
      return `ELEMENTS_RESOURCES: "${entry}" is not a resource; list ${RESOURCES_LIST}, separated by commas.${didYouMean(name, RESOURCE_NAMES)}`;
    }
    named.add(name);
  }
  if (named.size === 0) return `ELEMENTS_RESOURCES must list at least one of ${RESOURCES_LIST}.`;
  const dependent = RESOURCE_NAMES.filter((name) => name !== "customers" && named.has(name));
  if (!named.has("customers")) {
    return `ELEMENTS_RESOURCES names ${dependent.join(" and ")} without customers: subscriptions and backup jobs are kept per customer, so customers must be synced too; add customers.`;
  }
  return RESOURCE_NAMES.filter((name) => named.has(name));
}

/** Largest code accepted: codes are stored as integer. */
const MAX_CODE = 2 ** 31 - 1;

/** ELEMENTS_JOBS_FOR_STATUS as the codes it lists, each once, in order; or what is wrong. */
export function parseJobsForStatus(list: string): number[] | string {
  const codes = new Set<number>();
  for (const entry of list.split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    const code = /^\d+$/.test(entry) ? Number(entry) : Number.NaN;
    if (!(code <= MAX_CODE)) {
      const known = [...JOB_STATUS_LABELS].map(([one, label]) => `${one} ${label}`).join(", ");
      return `ELEMENTS_JOBS_FOR_STATUS: "${entry}" is not a customer job-status code; list codes (${known}), separated by commas.`;
    }
    codes.add(code);
  }
  if (codes.size === 0) {
    return "ELEMENTS_JOBS_FOR_STATUS must list at least one customer job-status code, or be unset (every customer).";
  }
  return [...codes].sort((a, b) => a - b);
}

const resourcesVariables = {
  // Both checked by the rules below, which name the entry that is wrong.
  ELEMENTS_RESOURCES: variable(z.string().default(RESOURCE_NAMES.join(",")), {
    expects: `a list of ${RESOURCES_LIST}`,
  }),
  ELEMENTS_JOBS_FOR_STATUS: variable(z.string().optional(), {
    expects: "a list of customer job-status codes",
  }),
};

type ResourcesRaw = RawValues<typeof resourcesVariables>;

/** What a run syncs, and for which customers it asks for backup jobs. */
export const resources = concern(
  resourcesVariables,
  (values: ValuesOf<typeof resourcesVariables>): ResourcesConfig => {
    const names = parseResources(values.ELEMENTS_RESOURCES);
    const codes =
      values.ELEMENTS_JOBS_FOR_STATUS === undefined
        ? undefined
        : parseJobsForStatus(values.ELEMENTS_JOBS_FOR_STATUS);
    // The rules below have refused every value these could not parse.
    if (typeof names === "string") throw new Error(`unreachable: ${names}`);
    if (typeof codes === "string") throw new Error(`unreachable: ${codes}`);
    return { resources: names, jobsForStatus: codes };
  },
  [
    (raw: ResourcesRaw) => {
      const names = parseResources(raw.ELEMENTS_RESOURCES ?? RESOURCE_NAMES.join(","));
      return typeof names === "string"
        ? { variable: "ELEMENTS_RESOURCES", problem: names }
        : undefined;
    },
    (raw: ResourcesRaw) => {
      if (raw.ELEMENTS_JOBS_FOR_STATUS === undefined) return undefined;
      const codes = parseJobsForStatus(raw.ELEMENTS_JOBS_FOR_STATUS);
      return typeof codes === "string"
        ? { variable: "ELEMENTS_JOBS_FOR_STATUS", problem: codes }
        : undefined;
    },
  ],
);
