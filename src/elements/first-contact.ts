// A host that cannot be found or connected to the first time it is asked is most likely a
// wrong setting, not an outage: retrying it for the whole retry budget only delays the one
// message that helps, the setting to check.
import { ElementsApiError, SERVICE_NAMES, type Service } from "./errors.ts";

/** A host, and the setting it came from (ELEMENTS_REGION, ELEMENTS_API_URL, ELEMENTS_IDENTITY_URL). */
export interface HostSetting {
  url: string;
  variable: string;
}

export type HostSettings = Record<Service, HostSetting>;

/** Socket errors that say nothing listens there, or there is no such host. */
const ABSENT_HOST: Record<string, string> = {
  ENOTFOUND: "the name does not resolve",
  EAI_AGAIN: "the name could not be resolved",
  EAI_NONAME: "the name does not resolve",
  ECONNREFUSED: "nothing accepts connections there",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
};

/** The fatal failure for `error` if it says the host is absent, else undefined. */
export function absentHostFailure(
  error: ElementsApiError,
  host: HostSetting,
): ElementsApiError | undefined {
  if (error.status !== undefined) return undefined;
  const code = absentHostCode(error);
  if (code === undefined) return undefined;
  const name = SERVICE_NAMES[error.service];
  return new ElementsApiError(
    `Could not reach ${name} at ${hostOf(host.url)} on the first request (${code}: ${ABSENT_HOST[code] ?? ""}). Check ${host.variable}.`,
    { kind: "fatal", service: error.service, cause: error },
  );
}

function absentHostCode(error: Error): string | undefined {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code !== undefined && code in ABSENT_HOST) return code;
    // Several addresses tried (IPv4 and IPv6): every one failed, for its own reason.
    if (cause instanceof AggregateError) {
      const codes = cause.errors.map((inner: unknown) => (inner as NodeJS.ErrnoException).code);
      const first = codes.find((c): c is string => c !== undefined && c in ABSENT_HOST);
      if (first !== undefined && codes.every((c) => c !== undefined && c in ABSENT_HOST)) {
        return first;
      }
    }
  }
  return undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
