// The real CLI against a database of its own and the simulator serving a data file: what the
// end-to-end tests of one command's behaviour need, set up once per file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCustomersFile } from "../../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../../src/simulator/server.ts";
import { simulatorEnv } from "./cli.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export interface CliRig {
  db: TestDatabase;
  simulator: Simulator;
  /** DATABASE_URL and the simulator's URLs and demo login, plus what the test added. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startCliRig(
  customers: readonly unknown[],
  env: Record<string, string> = {},
): Promise<CliRig> {
  const db = await createTestDatabase("es_cli_rig");
  const dir = mkdtempSync(join(tmpdir(), "elements-sync-cli-rig-"));
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, customers);
  const simulator = await startSimulator({ dataFile });
  return {
    db,
    simulator,
    env: { ...simulatorEnv(db.url, simulator.url), ...env },
    async close() {
      await simulator.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
