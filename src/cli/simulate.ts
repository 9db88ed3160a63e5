import { ConfigError } from "../errors.ts";
import {
  API_VERSIONS,
  isApiVersion,
  startSimulator,
  type ApiVersion,
} from "../simulator/server.ts";
import { EXIT } from "./io.ts";
import type { Command, OptionValues } from "./command.ts";
import { integerOption, stringOption } from "./options.ts";

export const simulateCommand: Command = {
  summary: "serve a local Elements API (token + customers endpoints) for demos and tests",
  usage: [
    "Usage: elements-sync simulate [--port N] [--host H] [--api-version 2025-10|seed] [--customers N] [--seed S] [--data file.json] [--latency ms] [--fault-rate R] [--fault-seed S]",
    "",
    "Serves POST /connect/token and POST /partner/external/v3/general/customers/batch on",
    "127.0.0.1 (or --host) until interrupted. Client id demo-client, secret demo-secret.",
    "",
    "Options:",
    "  --port N        port to listen on (default: a free one)",
    "  --host H        interface to listen on (default 127.0.0.1; 0.0.0.0 in a container)",
    "  --api-version V the customers endpoint's version: 2025-10 (default; filters by",
    "                  customerIds, 50 a page unless asked) or seed (filters by customerId,",
    "                  100 a page); each ignores the other's filter",
    "  --customers N   generate N customers (default 250)",
    "  --seed S        seed of the generated data (default 1); same seed, same data",
    '  --data FILE     serve {"customers": [...]} from FILE, re-read on every request',
    "  --latency MS    delay every customers response by MS milliseconds (default 0)",
    "  --fault-rate R  give each request a random fault with probability R, 0 to 1 (default 0):",
    "                  429, 5xx, resets, 1 s delays, 403, corrupt pages, expired tokens",
    "  --fault-seed S  seed of the random faults (default 1); same seed, same faults",
  ].join("\n"),
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "api-version": { type: "string" },
    customers: { type: "string" },
    seed: { type: "string" },
    data: { type: "string" },
    latency: { type: "string" },
    "fault-rate": { type: "string" },
    "fault-seed": { type: "string" },
  },
  async run(values, io) {
    const dataFile = stringOption(values, "data");
    const host = stringOption(values, "host");
    const apiVersion = apiVersionOption(values);
    const faultRate = rateOption(values, "fault-rate");
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
    });
    io.out(`Elements API simulator (API version ${apiVersion}) listening on ${simulator.url}`);
    io.out("Point the worker at it with:");
    io.out(`  ELEMENTS_API_URL=${simulator.url} ELEMENTS_IDENTITY_URL=${simulator.url}`);
    io.out("  ELEMENTS_CLIENT_ID=demo-client ELEMENTS_CLIENT_SECRET=demo-secret");
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
    throw new ConfigError(`--${name} must be a number from 0 to 1; got "${raw}".`);
  }
  return value;
}

function apiVersionOption(values: OptionValues): ApiVersion {
  const raw = stringOption(values, "api-version") ?? "2025-10";
  if (!isApiVersion(raw)) {
    throw new ConfigError(`--api-version must be ${API_VERSIONS.join(" or ")}; got "${raw}".`);
  }
  return raw;
}
