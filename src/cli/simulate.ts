import { UsageError } from "../errors.ts";
import {
  API_VERSIONS,
  isApiVersion,
  startSimulator,
  type ApiVersion,
} from "../simulator/server.ts";
import { isPermission, PERMISSIONS } from "../simulator/permissions.ts";
import { EXIT } from "./io.ts";
import type { CommandRunner, OptionValues } from "./command.ts";
import { integerOption, listOption, stringOption } from "./options.ts";

export const simulateCommand: CommandRunner = {
  async run(values, io) {
    const dataFile = stringOption(values, "data");
    const host = stringOption(values, "host");
    const apiVersion = apiVersionOption(values);
    const faultRate = rateOption(values, "fault-rate");
    const deny = denyOption(values);
    const faultSeed = integerOption(values, "fault-seed", {
      min: 0,
      max: 2 ** 31 - 1,
      fallback: 1,
    });
    const simulator = await startSimulator({
      apiVersion,
      port: integerOption(values, "port", { min: 0, max: 65_535, fallback: 0 }),
      customers: integerOption(values, "customers", { min: 0, max: 10_000_000, fallback: 250 }),
      seed: integerOption(values, "seed", { min: 0, max: 2 ** 31 - 1, fallback: 1 }),
      latencyMs: integerOption(values, "latency", { min: 0, max: 600_000, fallback: 0 }),
      ...(dataFile !== undefined ? { dataFile } : {}),
      ...(host !== undefined ? { host } : {}),
      ...(faultRate > 0 ? { chaos: { seed: faultSeed, rate: faultRate } } : {}),
      deny,
    });
    io.out(`Elements API simulator (API version ${apiVersion}) listening on ${simulator.url}`);
    io.out("Point the worker at it with:");
    io.out(`  ELEMENTS_API_URL=${simulator.url} ELEMENTS_IDENTITY_URL=${simulator.url}`);
    io.out("  ELEMENTS_CLIENT_ID=demo-client ELEMENTS_CLIENT_SECRET=demo-secret");
    if (deny.length > 0) io.out(`The app registration lacks: ${deny.join(", ")}`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await simulator.close();
    return EXIT.ok;
  },
};

function rateOption(values: OptionValues, name: string): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return 0;
  const value = Number(raw);
  if (!/^\s*[\d.]+\s*$/.test(raw) || !(value >= 0 && value <= 1)) {
    throw new UsageError(`--${name} must be a number from 0 to 1; got "${raw}".`);
  }
  return value;
}

function apiVersionOption(values: OptionValues): ApiVersion {
  const raw = stringOption(values, "api-version") ?? "2025-10";
  if (!isApiVersion(raw)) {
    throw new UsageError(`--api-version must be ${API_VERSIONS.join(" or ")}; got "${raw}".`);
  }
  return raw;
}

function denyOption(values: OptionValues): string[] {
  const denied = listOption(values, "deny") ?? [];
  const unknown = denied.find((name) => !isPermission(name));
  if (unknown !== undefined) {
    throw new UsageError(`--deny must name ${PERMISSIONS.join(", ")}; got "${unknown}".`);
  }
  return denied;
}
