// The services (subscriptions) endpoint: each customer's products as the live documentation
// shows them (elements-api.md, "Services"), every field a string, "N/A" when it does not
// apply. Derived from the customers, deterministically for a seed and an instant (see
// generateServices for how they expire, renew and change seats), unless the data file lists
// its own.
import { isObject } from "../values.ts";
import { customerBasics, Random, type ServedData } from "./data.ts";
import { pageReply, type Paging } from "./http.ts";
import type { Reply } from "./reply.ts";
import { addYears, currentTerm, drawPlan } from "./terms.ts";

/** A product in the exact shape the services endpoint returns: 18 strings. */
export interface SimulatedProduct {
  service: string;
  subscriptionModel: string;
  purchasedUserSeats: string;
  purchasedUnits: string;
  microsoftLicenseAssigned: string;
  microsoftLicenseAvailable: string;
  purchasedCapacity: string;
  protectedCapacity: string;
  storage: string;
  retention: string;
  consumedStorage: string;
  expirationDate: string;
  change: string;
  source: string;
  paymentType: string;
  subscriptionName: string;
  package: string;
  contractEndDate: string;
}

/** One `data` item of the services endpoint. */
export interface SimulatedServices {
  customerId: string;
  organization: string;
  customer: string;
  products: SimulatedProduct[];
}

const NA = "N/A";
const DAY_MS = 86_400_000;

type Catalogue = "seats" | "units" | "migration" | "capacity";
const CATALOGUE: readonly { service: string; kind: Catalogue }[] = [
  { service: "Cloud Backup for Microsoft 365", kind: "seats" },
  { service: "Cloud Backup for Google Workspace", kind: "seats" },
  { service: "Cloud Backup for Salesforce", kind: "capacity" },
  { service: "Cloud Backup for Dynamics 365", kind: "seats" },
  { service: "Cloud Backup for IaaS + PaaS - Unit", kind: "units" },
  { service: "Fly Migration to Google", kind: "migration" },
  { service: "Fly Migration to Microsoft 365", kind: "migration" },
];

/** The first instant (UTC) of the day `at` falls in: generated jobs count from it. */
export function startOfDay(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

function isoDay(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 10)}T00:00:00Z`;
}

/** A record as JSON with its keys sorted, so that only a change of content changes it. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) =>
    isObject(field) && !Array.isArray(field)
      ? Object.fromEntries(Object.entries(field).sort(([a], [b]) => (a < b ? -1 : 1)))
      : field,
  );
}

/**
 * A customer's subscriptions at `now`: one to three products of distinct services, each in
 * terms of a month or a year (terms.ts), so that an expiration date stays put until it
 * passes and then moves one term on. The first product always renews; about half of the
 * others stop after a few terms, stay listed expired for 30 days, are left out for a while,
 * then are bought again.
 *
 * Seats (and the Microsoft licences assigned) are drawn afresh at each renewal and whenever
 * the customer's record changes (any field: a customer whose record changed is one whose
 * partner is at work on it), so that two requests see different seats only when a term
 * turned over or the customer changed between them, never otherwise: an unchanged re-run
 * gets the same data. Everything else is fixed by the seed.
 */
export function generateServices(
  record: unknown,
  seed: number,
  now: number,
): SimulatedServices | undefined {
  const customer = customerBasics(record);
  if (customer === undefined) return undefined;
  const random = Random.forCustomer(seed, `services:${customer.id}`);
  const revision = canonicalJson(record);
  const count = 1 + random.int(3);
  const offered = [...CATALOGUE];
  const products: SimulatedProduct[] = [];
  for (let i = 0; i < count; i++) {
    const [entry] = offered.splice(random.int(offered.length), 1);
    if (entry === undefined) break;
    const monthly = random.int(5) === 0;
    const renews = i === 0 || random.int(2) === 0;
    const pooled = entry.kind !== "migration" && random.int(3) === 0;
    const baseSeats = entry.kind === "seats" ? 10 * (1 + random.int(50)) : undefined;
    const units = entry.kind === "units" ? 1 + random.int(20) : undefined;
    const capacity = entry.kind === "capacity" ? 1 + random.int(10) : undefined;
    const contractYears = random.int(4) - 1;
    const current = currentTerm(drawPlan(seed, `${customer.id}:${i}`, monthly, renews), now);
    // Draws above this line happen for every product, listed or not, so that one left out
    // does not shift the next one's.
    const protectedGb = random.int(500);
    const storage = random.int(4) === 0 ? "Bring your own storage" : "AvePoint storage";
    const retention = random.pick(["1 year", "3 years", "Unlimited"]);
    const consumedGb = random.int(2000);
    const change = random.int(21) - 10;
    const packageName = random.pick(["Standard", "Advanced"]);
    if (current === undefined) continue;
    const seatsNow = Random.forCustomer(
      seed,
      `seats:${customer.id}:${i}:${current.purchase}:${current.term}:${revision}`,
    );
    const seats =
      baseSeats === undefined ? undefined : Math.max(10, baseSeats + 10 * (seatsNow.int(5) - 2));
    // Microsoft licences are counted for the Microsoft clouds' seats only.
    const microsoft = /Microsoft|Dynamics/.test(entry.service);
    const assigned =
      seats === undefined || !microsoft
        ? undefined
        : Math.floor(seats * (0.5 + seatsNow.int(50) / 100));
    products.push({
      service: entry.service,
      subscriptionModel:
        entry.kind === "migration" ? "Per project" : pooled ? "Pooled" : "Subscription",
      purchasedUserSeats: seats === undefined ? NA : String(seats),
      purchasedUnits: units === undefined ? NA : String(units),
      microsoftLicenseAssigned: assigned === undefined ? NA : String(assigned),
      microsoftLicenseAvailable:
        seats === undefined || assigned === undefined ? NA : String(seats - assigned),
      purchasedCapacity: capacity === undefined ? NA : `0/${capacity} GB`,
      protectedCapacity: entry.kind === "migration" ? NA : `${protectedGb} GB`,
      storage,
      retention: entry.kind === "migration" ? NA : retention,
      consumedStorage: entry.kind === "migration" ? NA : `${consumedGb} GB`,
      expirationDate: isoDay(current.expiration),
      change: pooled ? String(change) : NA,
      source: pooled ? "AvePoint pooled subscription" : "AvePoint subscription",
      paymentType: monthly ? "Monthly" : "Prepaid",
      subscriptionName:
        entry.kind === "migration" ? `FLY-${customer.id.slice(0, 4).toUpperCase()}-${1 + i}` : NA,
      package: entry.service === "Cloud Backup for Microsoft 365" ? packageName : NA,
      // None for a quarter; else the current term's end, or one or two years past it.
      contractEndDate: contractYears < 0 ? NA : isoDay(addYears(current.expiration, contractYears)),
    });
  }
  return {
    customerId: customer.id,
    organization: customer.organization,
    customer: customer.ownerEmail,
    products,
  };
}

/**
 * The items the services endpoint pages through for `ids` (undefined: every customer): the
 * data file's own list when it has one, served verbatim; else derived from the customers.
 * Derivation is lazy, page by page, so a large list costs only what is served.
 */
function servicesSource(
  customers: readonly unknown[],
  listed: readonly unknown[] | undefined,
  ids: readonly string[] | undefined,
  seed: number,
  now: number,
): { count: number; slice: (start: number, end: number) => unknown[] } {
  const wanted = ids === undefined ? undefined : new Set(ids);
  const keep = (id: unknown) => wanted === undefined || (typeof id === "string" && wanted.has(id));
  if (listed !== undefined) {
    const items =
      wanted === undefined
        ? listed
        : listed.filter((item) => isObject(item) && keep(item.customerId));
    return { count: items.length, slice: (start, end) => items.slice(start, end) };
  }
  const owners = customers.filter((record) => {
    const basics = customerBasics(record);
    return basics !== undefined && keep(basics.id);
  });
  return {
    count: owners.length,
    slice: (start, end) =>
      owners.slice(start, end).flatMap((record) => generateServices(record, seed, now) ?? []),
  };
}

/** A page of the services endpoint for `ids` (undefined: every customer). */
export function servicesAnswer(
  data: ServedData,
  ids: readonly string[] | undefined,
  paging: Paging,
  seed: number,
  now: number,
): Reply {
  const source = servicesSource(data.customers, data.services, ids, seed, now);
  return pageReply(paging, source.count, source.slice);
}
