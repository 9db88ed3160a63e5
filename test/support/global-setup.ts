// Finds the PostgreSQL server the tests run against, in this order:
// TEST_DATABASE_URL; a Testcontainers PostgreSQL when a Docker engine answers;
// the local server at 127.0.0.1:5432; otherwise one error saying how to provide one.
// test/support/testcontainers-setup.ts takes the Testcontainers branch only.
import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { parse } from "yaml";

const LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres";

/** Where the tests' server came from; a Testcontainers one names its container. */
export type DatabaseSource =
  | { kind: "TEST_DATABASE_URL" }
  | { kind: "local" }
  | { kind: "testcontainers"; containerId: string };

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    databaseSource: DatabaseSource;
  }
}

/** The PostgreSQL image Compose runs, so tests and Compose use one (pinned) image. */
export function composePostgresImage(): string {
  const compose = parse(
    readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8"),
    { merge: true },
  ) as { services: { postgres?: { image?: string } } };
  const image = compose.services.postgres?.image;
  if (!image) throw new Error("docker-compose.yml has no postgres service image");
  return image;
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

export interface ContainerDatabase {
  url: string;
  source: DatabaseSource & { kind: "testcontainers" };
  stop(): Promise<void>;
}

/** Starts PostgreSQL with Testcontainers on the engine DOCKER_HOST (or Docker's default) names. */
export async function startContainerDatabase(): Promise<ContainerDatabase> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer(composePostgresImage()).start();
  return {
    url: container.getConnectionUri(),
    source: { kind: "testcontainers", containerId: container.getId() },
    async stop() {
      await container.stop();
    },
  };
}

function provide(project: TestProject, url: string, source: DatabaseSource): void {
  project.provide("adminDatabaseUrl", url);
  project.provide("databaseSource", source);
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) {
    if (!(await accepts(fromEnv)))
      throw new Error(`TEST_DATABASE_URL does not accept connections.`);
    provide(project, fromEnv, { kind: "TEST_DATABASE_URL" });
    return undefined;
  }
  if (dockerMayBeThere()) {
    try {
      const database = await startContainerDatabase();
      provide(project, database.url, database.source);
      console.info("tests: using a Testcontainers PostgreSQL");
      return () => database.stop();
    } catch (error) {
      console.warn(
        `tests: Docker did not start PostgreSQL (${String(error)}); trying ${LOCAL_SERVER}`,
      );
    }
  }
  if (await accepts(LOCAL_SERVER)) {
    provide(project, LOCAL_SERVER, { kind: "local" });
    return undefined;
  }
  throw new Error(
    "No PostgreSQL for the tests. Set TEST_DATABASE_URL to a server where the user may create databases, " +
      "start Docker (Testcontainers starts one), or run PostgreSQL on 127.0.0.1:5432 with user postgres.",
  );
}
