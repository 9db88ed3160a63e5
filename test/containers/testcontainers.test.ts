// Proves that the "testcontainers" project (vitest.containers.config.ts) ran against a
// Testcontainers PostgreSQL, the branch users with Docker take: the server the tests got is
// the container's, reached through the port the engine published for it.
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { docker, dockerEnv, readyOrUnused } from "../support/container-engine.ts";
import { composePostgresImage } from "../support/global-setup.ts";

const engine = inject("containerEngine");
const ready = readyOrUnused(engine);

describe.skipIf(!engine.available)("the tests' database", () => {
  it("is a Testcontainers PostgreSQL of Compose's image, reached through its published port", async () => {
    const source = inject("databaseSource");
    if (source.kind !== "testcontainers") throw new Error(`database from ${source.kind}`);
    const env = dockerEnv(ready);
    const image = await docker(env, [
      "inspect",
      "--format",
      "{{.Config.Image}}",
      source.containerId,
    ]);
    expect(image.stdout.trim()).toMatch(new RegExp(`(^|/)${composePostgresImage()}$`));
    const published = (await docker(env, ["port", source.containerId, "5432/tcp"])).stdout;
    const url = new URL(inject("adminDatabaseUrl"));
    expect(
      published
        .trim()
        .split("\n")
        .map((line) => line.split(":").at(-1)),
    ).toContain(url.port);

    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      // The official image's (and the stand-in's) data directory, not a local server's.
      const dataDirectory = await client.query<{ data_directory: string }>("SHOW data_directory");
      expect(dataDirectory.rows[0]?.data_directory).toBe("/var/lib/postgresql/data");
    } finally {
      await client.end();
    }
  });
});
