// The permissions an Elements app registration can be granted, one per endpoint; each is
// also the `scope` of a token request (elements-api.md, "Subscriptions and backup jobs").
// The simulator's registration holds all three unless a test or a demo denies some.
import {
  CUSTOMERS_PERMISSION,
  JOBS_PERMISSION,
  LICENSE_PERMISSION,
} from "../elements/resources.ts";

export const PERMISSIONS = [CUSTOMERS_PERMISSION, LICENSE_PERMISSION, JOBS_PERMISSION] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/** The permissions given, checked: a name outside PERMISSIONS is a RangeError naming the list. */
export function checkedPermissions(names: readonly string[]): Set<Permission> {
  const checked = new Set<Permission>();
  for (const name of names) {
    if (!isPermission(name)) {
      throw new RangeError(`unknown permission ${name}; one of ${PERMISSIONS.join(", ")}`);
    }
    checked.add(name);
  }
  return checked;
}
