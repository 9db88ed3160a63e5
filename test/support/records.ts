// A customer record as the Elements API serves it, for tests of what is done with records.

/** A valid customer with one tenant, `overrides` applied. */
export function customerRecord(overrides: Record<string, unknown> = {}) {
  return {
    id: "c-1",
    organization: "Contoso",
    ownerEmail: null,
    jobStatus: 1,
    countryOrRegion: null,
    managementMode: 1,
    tenants: [{ id: "t-1", name: "Tenant" }],
    ...overrides,
  };
}
