// Where the Elements API and its identity service live, by ELEMENTS_REGION name: AvePoint's
// environments (each with its own identity service) and the data centers of the commercial
// one (a Graph host of their own, tokens from the commercial identity service). See Hosts in
// the Elements API reference.

/**
 * Data-center codes of the regional Graph hosts, `https://graph-<code>.avepointonlineservices.com`:
 * Microsoft Azure's, then Google Cloud's (`gcp-`), as AvePoint's overview page lists them.
 */
export const DATA_CENTER_CODES = [
  "au",
  "ca",
  "de",
  "us",
  "fr",
  "jp",
  "kr",
  "ne",
  "sg",
  "ch",
  "uk",
  "we",
  "uae",
  "za",
  "qa",
  "gcp-au",
  "gcp-jp",
  "gcp-us",
  "gcp-we",
  "gcp-kr",
] as const;

const COMMERCIAL = {
  apiUrl: "https://graph.avepointonlineservices.com",
  identityUrl: "https://identity.avepointonlineservices.com",
};
const GOVERNMENT = {
  apiUrl: "https://graph-gov.avepointonlineservices.com",
  identityUrl: "https://identity-gov.avepointonlineservices.com",
};
/** AvePoint Online Services 2: its own Graph host and identity service. */
const AOS2 = {
  apiUrl: "https://graph-aos2.avepointonlineservices.com",
  identityUrl: "https://identity-aos2.avepointonlineservices.com",
};
/** FedRAMP Cloud (Project Hosts): hosts of their own, outside avepointonlineservices.com. */
const FEDRAMP = {
  apiUrl: "https://graphusgovapi.online15.net",
  identityUrl: "https://identity.online15.net",
};
/** Environments with identity services of their own, by ELEMENTS_REGION name. */
const ENVIRONMENTS = { commercial: COMMERCIAL, gov: GOVERNMENT, aos2: AOS2, fedramp: FEDRAMP };

/** Every ELEMENTS_REGION name. */
export const REGIONS = ["commercial", "gov", "aos2", "fedramp", ...DATA_CENTER_CODES] as const;
export type Region = (typeof REGIONS)[number];

export interface Hosts {
  apiUrl: string;
  identityUrl: string;
}

/** The Graph and identity hosts of a region. */
export function regionHosts(name: Region): Hosts {
  if (name in ENVIRONMENTS) return ENVIRONMENTS[name as keyof typeof ENVIRONMENTS];
  return { ...COMMERCIAL, apiUrl: `https://graph-${name}.avepointonlineservices.com` };
}
