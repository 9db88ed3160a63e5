// The simulator's customers: generated deterministically from a seed, or read from a JSON
// data file ({"customers": [...]}, optionally "services" and "jobs") whose records are
// served verbatim, malformed or not.
import { readFile, writeFile } from "node:fs/promises";
import { JOB_STATUS_LABELS, MANAGEMENT_MODE_LABELS } from "../elements/codes.ts";
import { errorMessage } from "../errors.ts";
import { checkedInteger, isObject } from "../values.ts";

/** A customer in the exact shape the Elements customers endpoint returns. */
export interface SimulatedCustomer {
  id: string;
  organization: string;
  ownerEmail: string;
  jobStatus: number;
  countryOrRegion: string;
  managementMode: number;
  tenants: SimulatedTenant[];
}

export interface SimulatedTenant {
  id: string;
  name: string;
}

/** What the simulator serves: generated, in memory, or a data file's content. */
export interface ServedData {
  readonly customers: readonly unknown[];
  readonly services?: readonly unknown[] | undefined;
  readonly jobs?: Readonly<Record<string, readonly unknown[]>> | undefined;
}

/** The content of a data file. */
export interface CustomersFile {
  customers: unknown[];
  /** The services endpoint's `data` items; absent: derived from the customers. */
  services?: unknown[];
  /** Each customer's backup jobs by customer id; absent: derived from the customers. */
  jobs?: Record<string, unknown[]>;
}

/** mulberry32: a small, fast PRNG; returns floats in [0, 1). Also drives the chaos mode. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Random {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A random generator of its own for one customer: the same seed and id, the same draws. */
  static forCustomer(seed: number, customerId: string): Random {
    // FNV-1a of the id, mixed with the seed, so a customer's draws do not depend on its place.
    let hash = 0x811c9dc5 ^ seed;
    for (let i = 0; i < customerId.length; i++)
      hash = Math.imul(hash ^ customerId.charCodeAt(i), 0x01000193);
    return new Random(hash);
  }

  int(maxExclusive: number): number {
    return Math.floor(this.#next() * maxExclusive);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** One of the keys of `weights`, chosen with probability proportional to its weight. */
  weighted(weights: ReadonlyMap<number, number>): number {
    const total = [...weights.values()].reduce((sum, weight) => sum + weight, 0);
    let roll = this.#next() * total;
    let last = 0;
    for (const [value, weight] of weights) {
      last = value;
      roll -= weight;
      if (roll < 0) return value;
    }
    return last;
  }

  /** A version-4-shaped UUID. */
  uuid(): string {
    let hex = "";
    for (let i = 0; i < 4; i++)
      hex += Math.floor(this.#next() * 2 ** 32)
        .toString(16)
        .padStart(8, "0");
    const variant = "89ab"[this.int(4)] ?? "8";
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

const NAME_STEMS = [
  "Northwind",
  "Contoso",
  "Fabrikam",
  "Tailspin",
  "Litware",
  "Adventure",
  "Blue Yonder",
  "Coho",
  "Alpine",
  "Wingtip",
  "Proseware",
  "Lucerne",
  "Margie's",
  "Trey",
  "Woodgrove",
  "Fourth Coffee",
  "Graphic",
  "Humongous",
  "Wide World",
  "Southridge",
  "Relecloud",
  "Datum",
  "Bellows",
  "Cascade",
  "Harbor",
  "Evergreen",
  "Summit",
  "Pioneer",
  "Keystone",
  "Redwood",
] as const;
const NAME_KINDS = [
  "Traders",
  "Logistics",
  "Consulting",
  "Health",
  "Energy",
  "Foods",
  "Legal",
  "Design",
  "Insurance",
  "Software",
  "Manufacturing",
  "Media",
  "Partners",
  "Labs",
  "Retail",
  "Travel",
] as const;
const NAME_SUFFIXES = ["Ltd", "Inc.", "GmbH", "LLC", "S.A.", "Pty Ltd", "AG", "Group", ""] as const;
const FIRST_NAMES = [
  "alex",
  "maria",
  "chen",
  "priya",
  "tom",
  "fatima",
  "lars",
  "yuki",
  "olga",
  "diego",
  "amara",
  "jonas",
  "sofia",
  "liam",
  "nina",
  "omar",
] as const;
const COUNTRIES = [
  "United States",
  "United Kingdom",
  "Germany",
  "France",
  "Canada",
  "Australia",
  "Japan",
  "Netherlands",
  "Switzerland",
  "Singapore",
  "South Korea",
  "Ireland",
  "Sweden",
  "Spain",
  "Italy",
  "Brazil",
  "India",
  "New Zealand",
  "Afghanistan",
  "South Africa",
] as const;

/** Mostly Working, then the codes that need attention; every documented code occurs. */
const JOB_STATUS_WEIGHTS: ReadonlyMap<number, number> = new Map(
  [...JOB_STATUS_LABELS.keys()].map((code) => [code, code === 1 ? 60 : code === 0 ? 8 : 32 / 5]),
);
const MANAGEMENT_MODE_WEIGHTS: ReadonlyMap<number, number> = new Map(
  [...MANAGEMENT_MODE_LABELS.keys()].map((code) => [code, code === 1 ? 6 : 2]),
);
/** 0–3 tenants, about two on average. */
const TENANT_COUNT_WEIGHTS: ReadonlyMap<number, number> = new Map([
  [0, 10],
  [1, 20],
  [2, 35],
  [3, 35],
]);

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "");
}

/**
 * `count` customers in the API's record shape; the same count and seed always give the same
 * customers, and the first n customers of a larger count equal those of count n.
 */
export function generateCustomers(count: number, seed: number): SimulatedCustomer[] {
  checkedInteger("count", count, 0);
  const random = new Random(seed);
  const ids = new Set<string>();
  const uniqueUuid = (): string => {
    let id = random.uuid();
    while (ids.has(id)) id = random.uuid();
    ids.add(id);
    return id;
  };
  const customers: SimulatedCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const stem = random.pick(NAME_STEMS);
    const kind = random.pick(NAME_KINDS);
    const organization = [stem, kind, random.pick(NAME_SUFFIXES)].filter(Boolean).join(" ");
    const domain = `${slug(stem)}${slug(kind)}.example.com`;
    const tenantCount = random.weighted(TENANT_COUNT_WEIGHTS);
    const tenants: SimulatedTenant[] = [];
    for (let t = 1; t <= tenantCount; t++) {
      tenants.push({ id: uniqueUuid(), name: `${slug(stem)}${slug(kind)}${t === 1 ? "" : t}` });
    }
    customers.push({
      id: uniqueUuid(),
      organization,
      ownerEmail: `${random.pick(FIRST_NAMES)}@${domain}`,
      jobStatus: random.weighted(JOB_STATUS_WEIGHTS),
      countryOrRegion: random.pick(COUNTRIES),
      managementMode: random.weighted(MANAGEMENT_MODE_WEIGHTS),
      tenants,
    });
  }
  return customers;
}

/** A customer record's fields the derived resources need; undefined without a string id. */
export function customerBasics(
  record: unknown,
): { id: string; organization: string; ownerEmail: string; jobStatus: unknown } | undefined {
  if (!isObject(record) || typeof record.id !== "string") return undefined;
  const text = (value: unknown) => (typeof value === "string" ? value : "N/A");
  return {
    id: record.id,
    organization: text(record.organization),
    ownerEmail: text(record.ownerEmail),
    jobStatus: record.jobStatus,
  };
}

/** Reads a data file; throws with a message naming the file if it is unreadable or malformed. */
export async function readDataFile(path: string): Promise<CustomersFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read data file ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (!isObject(parsed) || !Array.isArray(parsed.customers)) {
    throw new Error(`data file ${path} must hold a JSON object {"customers": [...]}`);
  }
  const { customers, services, jobs } = parsed;
  if (services !== undefined && !Array.isArray(services)) {
    throw new Error(`data file ${path}: "services" must be a list`);
  }
  if (jobs !== undefined && !(isObject(jobs) && Object.values(jobs).every(Array.isArray))) {
    throw new Error(`data file ${path}: "jobs" must be an object of lists, by customer id`);
  }
  return {
    customers: customers as unknown[],
    ...(services === undefined ? {} : { services: services as unknown[] }),
    ...(jobs === undefined ? {} : { jobs: jobs as Record<string, unknown[]> }),
  };
}

/** A data file's customers (see readDataFile). */
export async function readCustomersFile(path: string): Promise<unknown[]> {
  return (await readDataFile(path)).customers;
}

/** Writes a data file the simulator can serve (records are written as given). */
export async function writeCustomersFile(
  path: string,
  customers: readonly unknown[],
  resources: Omit<CustomersFile, "customers"> = {},
): Promise<void> {
  const file: CustomersFile = { customers: [...customers], ...resources };
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * What the simulator serves: customers set in memory, else the data file's (re-read on every
 * request), else the generated; services and jobs set in memory, else the file's, else none
 * (the endpoints then derive them from the customers).
 */
export class DataSource {
  readonly #dataFile: string | undefined;
  readonly #generated: readonly unknown[];
  #customers: readonly unknown[] | undefined;
  #resources: Omit<ServedData, "customers"> = {};

  constructor(dataFile: string | undefined, generated: readonly unknown[]) {
    this.#dataFile = dataFile;
    this.#generated = generated;
  }

  /** Serves these customers from now on (undefined: the file's or the generated again). */
  setCustomers(customers: readonly unknown[] | undefined): void {
    this.#customers = customers === undefined ? undefined : [...customers];
  }

  /** Serves these services items and jobs from now on; a list left out goes back to the file's. */
  setResources(resources: Omit<ServedData, "customers"> | undefined): void {
    this.#resources = {
      ...(resources?.services === undefined ? {} : { services: [...resources.services] }),
      ...(resources?.jobs === undefined ? {} : { jobs: { ...resources.jobs } }),
    };
  }

  /** The customers, and with `resources` the services and jobs (reading the file only then). */
  async load(resources: boolean): Promise<ServedData> {
    const customers = this.#customers;
    if (this.#dataFile === undefined) {
      return { customers: customers ?? this.#generated, ...this.#resources };
    }
    if (customers !== undefined && !resources) return { customers };
    const file = await readDataFile(this.#dataFile);
    return { ...file, ...(customers === undefined ? {} : { customers }), ...this.#resources };
  }
}
