// Recording a failed run cannot fail because of what it records: an error text PostgreSQL
// cannot store as it is (a NUL a server put in its answer) is made storable, and the run is
// recorded `failed` with it, not left `running` for the next run to call abandoned.
// Driven through the real CLI against the simulator.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { runCli, simulatorEnv } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";

let db: TestDatabase;
let simulator: Simulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase("es_failure_record");
  dir = mkdtempSync(join(tmpdir(), "elements-sync-failure-record-"));
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, sampleCustomers(5));
  simulator = await startSimulator({ dataFile });
  env = { ...simulatorEnv(db.url, simulator.url), ELEMENTS_MAX_ATTEMPTS: "1" };
});

afterAll(async () => {
  await simulator.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a failure whose error text PostgreSQL cannot store as it is", () => {
  it("is recorded failed, the NUL escaped, and the next run finds nothing left running", async () => {
    simulator.injectFault({ status: 500, body: "upstream said: boom\u0000bang" });
    const result = await runCli(["sync"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("could not record the failed run");
    const [row] = await db.query<{ status: string; error: string }>(
      "SELECT status, error FROM sync_runs WHERE id = 1",
    );
    expect(row?.status).toBe("failed");
    expect(row?.error).toContain("upstream said: boom\\u0000bang");

    const next = await runCli(["sync"], env);
    expect(next.code, next.stderr).toBe(0);
    expect(await db.query("SELECT status FROM sync_runs ORDER BY id")).toEqual([
      { status: "failed" },
      { status: "succeeded" },
    ]);
    await expectInvariants(db);
  });
});
