// The services (subscriptions) endpoint: each customer's products as the live documentation
// shows them (elements-api.md, "Services"), every field a string, "N/A" when it does not
// apply. Derived from the customers, deterministically for a seed and a day, unless the
// data file lists its own.
import { isObject } from "../values.ts";
import { customerBasics, Random, type ServedData } from "./data.ts";
import { pageReply, type Paging } from "./http.ts";
import type { Reply } from "./reply.ts";

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

/** The first instant (UTC) of the day `at` falls in: generated dates count from it. */
export function startOfDay(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

function isoDay(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 10)}T00:00:00Z`;
}

/**
 * A customer's subscriptions: one to three products of distinct services; about one in six
 * expires within 30 days of `today`, a few expired lately, the rest within 13 months.
 */
export function generateServices(
  record: unknown,
  seed: number,
  today: number,
): SimulatedServices | undefined {
  const customer = customerBasics(record);
  if (customer === undefined) return undefined;
  const random = Random.forCustomer(seed, `services:${customer.id}`);
  const count = 1 + random.int(3);
  const offered = [...CATALOGUE];
  const products: SimulatedProduct[] = [];
  for (let i = 0; i < count; i++) {
    const [entry] = offered.splice(random.int(offered.length), 1);
    if (entry === undefined) break;
    const roll = random.int(12);
    const days =
      roll < 2 ? 1 + random.int(29) : roll < 3 ? -random.int(20) - 1 : 31 + random.int(365);
    const expiration = today + days * DAY_MS;
    const pooled = entry.kind !== "migration" && random.int(3) === 0;
    const seats = entry.kind === "seats" ? 10 * (1 + random.int(50)) : undefined;
    // Microsoft licences are counted for the Microsoft clouds' seats only.
    const microsoft = /Microsoft|Dynamics/.test(entry.service);
    const assigned =
      seats === undefined || !microsoft
        ? undefined
        : Math.floor(seats * (0.5 + random.int(50) / 100));
    const units = entry.kind === "units" ? 1 + random.int(20) : undefined;
    const capacity = entry.kind === "capacity" ? 1 + random.int(10) : undefined;
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
      protectedCapacity: entry.kind === "migration" ? NA : `${random.int(500)} GB`,
      storage: random.int(4) === 0 ? "Bring your own storage" : "AvePoint storage",
      retention: entry.kind === "migration" ? NA : random.pick(["1 year", "3 years", "Unlimited"]),
      consumedStorage: entry.kind === "migration" ? NA : `${random.int(2000)} GB`,
      expirationDate: isoDay(expiration),
      change: pooled ? String(random.int(21) - 10) : NA,
      source: pooled ? "AvePoint pooled subscription" : "AvePoint subscription",
      paymentType: random.int(5) === 0 ? "Monthly" : "Prepaid",
      subscriptionName:
        entry.kind === "migration" ? `FLY-${customer.id.slice(0, 4).toUpperCase()}-${1 + i}` : NA,
      package:
        entry.service === "Cloud Backup for Microsoft 365"
          ? random.pick(["Standard", "Advanced"])
          : NA,
      contractEndDate: random.int(4) === 0 ? NA : isoDay(expiration + random.int(3) * 365 * DAY_MS),
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
  today: number,
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
      owners.slice(start, end).flatMap((record) => generateServices(record, seed, today) ?? []),
  };
}

/** A page of the services endpoint for `ids` (undefined: every customer). */
export function servicesAnswer(
  data: ServedData,
  ids: readonly string[] | undefined,
  paging: Paging,
  seed: number,
  today: number,
): Reply {
  const source = servicesSource(data.customers, data.services, ids, seed, today);
  return pageReply(paging, source.count, source.slice);
}
