// Finds the PostgreSQL server the tests run against, in this order:
// TEST_DATABASE_URL; a Testcontainers PostgreSQL when a Docker engine answers;
// the local server at 127.0.0.1:5432; otherwise one error saying how to provide one.
import { existsSync } from "node:fs";
import pg from "pg";
import type { TestProject } from "vitest/node";

const LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function dockerMayBeThere(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync("/var/run/docker.sock");
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) {
    if (!(await accepts(fromEnv)))
      throw new Error(`TEST_DATABASE_URL does not accept connections.`);
    project.provide("adminDatabaseUrl", fromEnv);
    return undefined;
  }
  if (dockerMayBeThere()) {
    try {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      const container = await new PostgreSqlContainer("postgres:15-alpine").start();
      project.provide("adminDatabaseUrl", container.getConnectionUri());
      console.info("tests: using a Testcontainers PostgreSQL");
      return async () => {
        await container.stop();
      };
    } catch (error) {
      console.warn(
        `tests: Docker did not start PostgreSQL (${String(error)}); trying ${LOCAL_SERVER}`,
      );
    }
  }
  if (await accepts(LOCAL_SERVER)) {
    project.provide("adminDatabaseUrl", LOCAL_SERVER);
    return undefined;
  }
  throw new Error(
    "No PostgreSQL for the tests. Set TEST_DATABASE_URL to a server where the user may create databases, " +
      "start Docker (Testcontainers starts one), or run PostgreSQL on 127.0.0.1:5432 with user postgres.",
  );
}
