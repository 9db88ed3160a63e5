// A `data` item of the services endpoint (elements-api.md, "Services"): a customer and its
// products, every field a string, "N/A" when it does not apply. The item is rejected whole
// when its customer or any product's identity cannot be stored, so that no subscription of
// that customer looks gone; any other field is typed when it parses and null (named in
// `unparsable`) when it does not.
import { z } from "zod";
import { FieldReader, keyTextSchema, MAX_KEY_BYTES } from "./fields.ts";
import { describeIssues } from "./payload.ts";
import { isObject } from "../values.ts";

/** Every field the documentation lists for a product: any other is new (the services pass names it once a run). */
export const PRODUCT_FIELDS: readonly string[] = [
  "service",
  "subscriptionModel",
  "purchasedUserSeats",
  "purchasedUnits",
  "microsoftLicenseAssigned",
  "microsoftLicenseAvailable",
  "purchasedCapacity",
  "protectedCapacity",
  "storage",
  "retention",
  "consumedStorage",
  "expirationDate",
  "change",
  "source",
  "paymentType",
  "subscriptionName",
  "package",
  "contractEndDate",
];

/** What identifies a subscription within its customer; '' stands for absent ("N/A"). */
export const PRODUCT_IDENTITY_FIELDS = ["service", "source", "subscriptionName"] as const;

/** A subscription as stored: its identity, its 15 attributes, and the product as sent. */
export interface ProductRecord {
  service: string;
  source: string;
  subscriptionName: string;
  subscriptionModel: string | null;
  purchasedUserSeats: number | null;
  purchasedUnits: number | null;
  microsoftLicenseAssigned: number | null;
  microsoftLicenseAvailable: number | null;
  purchasedCapacity: string | null;
  protectedCapacity: string | null;
  storage: string | null;
  retention: string | null;
  consumedStorage: string | null;
  expirationDate: Date | null;
  change: string | null;
  paymentType: string | null;
  package: string | null;
  contractEndDate: Date | null;
  /** The API's names of the fields whose value did not parse into its type (stored as null). */
  unparsable: string[];
  /**
   * The product as the API sent it, every field. Named apart from the contract's `source`,
   * which is the product's own `source` field (part of its identity).
   */
  sourceRecord: Readonly<Record<string, unknown>>;
}

export interface ServicesItem {
  customerId: string;
  products: ProductRecord[];
}

const itemSchema = z.object({
  customerId: keyTextSchema,
  // Required: reading a missing list as "no subscriptions" would remove every one.
  products: z.array(z.custom<Record<string, unknown>>(isObject, "expected an object")),
});

/** A `data` item of the services endpoint, or why it cannot be stored. */
export function parseServicesItem(raw: unknown): ServicesItem | { rejected: string } {
  const item = itemSchema.safeParse(raw);
  if (!item.success) return { rejected: describeIssues(item.error) };
  const problems: string[] = [];
  const products = item.data.products.map((product, index) => {
    const parsed = parseProduct(product, `products.${index}`);
    problems.push(...parsed.problems);
    return parsed.record;
  });
  if (problems.length > 0) return { rejected: problems.join("; ") };
  return { customerId: item.data.customerId, products };
}

function parseProduct(
  product: Readonly<Record<string, unknown>>,
  path: string,
): { record: ProductRecord; problems: string[] } {
  const read = new FieldReader(product, path);
  const record: ProductRecord = {
    service: read.identity("service"),
    source: read.identity("source"),
    subscriptionName: read.identity("subscriptionName"),
    subscriptionModel: read.text("subscriptionModel"),
    purchasedUserSeats: read.integer("purchasedUserSeats"),
    purchasedUnits: read.integer("purchasedUnits"),
    microsoftLicenseAssigned: read.integer("microsoftLicenseAssigned"),
    microsoftLicenseAvailable: read.integer("microsoftLicenseAvailable"),
    purchasedCapacity: read.text("purchasedCapacity"),
    protectedCapacity: read.text("protectedCapacity"),
    storage: read.text("storage"),
    retention: read.text("retention"),
    consumedStorage: read.text("consumedStorage"),
    expirationDate: read.date("expirationDate"),
    change: read.text("change"),
    paymentType: read.text("paymentType"),
    package: read.text("package"),
    contractEndDate: read.date("contractEndDate"),
    unparsable: read.unparsable,
    sourceRecord: product,
  };
  const keyBytes = PRODUCT_IDENTITY_FIELDS.reduce(
    (sum, field) => sum + Buffer.byteLength(record[field], "utf8"),
    0,
  );
  if (keyBytes > MAX_KEY_BYTES) {
    read.problems.push(
      `${path}: service, source and subscriptionName are ${keyBytes} bytes together, more than the ${MAX_KEY_BYTES} a key may have`,
    );
  }
  return { record, problems: read.problems };
}
