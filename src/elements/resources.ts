// The Elements endpoints a run syncs, one per resource, each with the permission it needs.
// A permission is also the `scope` of the token its endpoint's requests carry: one token per
// scope, so a permission the app registration lacks stops only its own resource
// (elements-api.md, "Subscriptions and backup jobs"). The simulator serves the same paths.

/** What a run can sync, in the order it syncs them: customers first, the others need them. */
export const RESOURCE_NAMES = ["customers", "services", "jobs"] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];

export function isResourceName(value: string): value is ResourceName {
  return (RESOURCE_NAMES as readonly string[]).includes(value);
}

export const CUSTOMERS_PERMISSION = "elements.customers.read.all";
/** Subscriptions (the services endpoint). */
export const LICENSE_PERMISSION = "elements.license.read.all";
export const JOBS_PERMISSION = "elements.jobs.read.all";

export const CUSTOMERS_PATH = "partner/external/v3/general/customers/batch";
export const SERVICES_PATH = "partner/external/v3/general/customers/services/batch";
/** One customer's backup jobs; `{customerId}` stands for its id, URL-encoded. */
export const JOBS_PATH =
  "partner/external/v3/general/customers/{customerId}/avpt-products/jobs/batch";

export interface Endpoint {
  readonly resource: ResourceName;
  /** The permission it needs, and the scope of the token its requests carry. */
  readonly permission: string;
  /** Its path, without a leading slash; the jobs endpoint's names one customer. */
  readonly path: (customerId?: string) => string;
}

export const CUSTOMERS_ENDPOINT: Endpoint = Object.freeze({
  resource: "customers",
  permission: CUSTOMERS_PERMISSION,
  path: () => CUSTOMERS_PATH,
});

export const SERVICES_ENDPOINT: Endpoint = Object.freeze({
  resource: "services",
  permission: LICENSE_PERMISSION,
  path: () => SERVICES_PATH,
});

export const JOBS_ENDPOINT: Endpoint = Object.freeze({
  resource: "jobs",
  permission: JOBS_PERMISSION,
  path: (customerId?: string) => {
    // Asking for "every customer's jobs" has no path: a caller that forgot the id is a bug.
    if (customerId === undefined || customerId === "") {
      throw new TypeError("the jobs endpoint needs a customer id");
    }
    return JOBS_PATH.replace("{customerId}", encodeURIComponent(customerId));
  },
});

export const ENDPOINTS: Readonly<Record<ResourceName, Endpoint>> = Object.freeze({
  customers: CUSTOMERS_ENDPOINT,
  services: SERVICES_ENDPOINT,
  jobs: JOBS_ENDPOINT,
});

/** The endpoint needing `permission`, if any: which resource an identity refusal stops. */
export function endpointOfPermission(permission: string): Endpoint | undefined {
  return Object.values(ENDPOINTS).find((endpoint) => endpoint.permission === permission);
}
