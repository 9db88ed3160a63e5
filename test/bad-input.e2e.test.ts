// Bad input at every door, as a user meets it: the CLI as a real child process, against a
// real database and simulator. Each case must print one line naming what is wrong, exit 2
// (configuration) or 1 (runtime), and leave the database as it was.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, MIGRATIONS_DIR, readMigrations } from "../src/migrations.ts";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { createTestCertificate, type TestCertificate } from "./support/certificate.ts";
import { freePort, runCli, simulatorEnv } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { sampleCustomers } from "./support/harness.ts";

let empty: TestDatabase;
let simulator: Simulator;
let dir: string;
let certificate: TestCertificate;
let otherCertificate: TestCertificate;
let env: Record<string, string>;

beforeAll(async () => {
  empty = await createTestDatabase("es_badinput");
  dir = mkdtempSync(join(tmpdir(), "elements-sync-bad-input-"));
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, sampleCustomers(12));
  simulator = await startSimulator({ dataFile });
  env = { ...simulatorEnv(empty.url, simulator.url), ELEMENTS_MAX_ATTEMPTS: "1" };
  certificate = createTestCertificate();
  otherCertificate = createTestCertificate();
});

afterAll(async () => {
  await simulator.close();
  await empty.drop();
  for (const path of [dir, certificate.dir, otherCertificate.dir]) {
    rmSync(path, { recursive: true, force: true });
  }
});

type CliResult = Awaited<ReturnType<typeof runCli>>;

/** Exactly one line on stderr, matching `message`; nothing on stdout; the exit status. */
function expectOneLine(result: CliResult, code: number, message: RegExp): void {
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stdout).toBe("");
  expect(result.code).toBe(code);
}

async function publicTables(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

describe("invalid configuration: exit 2, one line naming the variable, nothing written", () => {
  // Every variable src/config.ts reads; test/unit/config.test.ts covers the parsing, this
  // what a user sees from each command that reads it.
  const cases: [command: string, variables: Record<string, string>, message: RegExp][] = [
    ["sync", { DATABASE_URL: "" }, /DATABASE_URL must be a PostgreSQL URL.*; it is not set\.$/],
    [
      "migrate",
      { DATABASE_URL: "mysql://u:hunter2@h/db" },
      /DATABASE_URL must be a PostgreSQL URL.*; the value given is not\.$/,
    ],
    ["status", { DATABASE_URL: "http://127.0.0.1:5432/x" }, /DATABASE_URL must be/],
    ["sync", { ELEMENTS_CLIENT_ID: "   " }, /ELEMENTS_CLIENT_ID must be the app registration's/],
    [
      "sync",
      { ELEMENTS_CLIENT_SECRET: "" },
      /ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH must be set/,
    ],
    [
      "sync",
      { ELEMENTS_CERTIFICATE_PATH: "/tmp/x.pem" },
      /Set either ELEMENTS_CLIENT_SECRET or ELEMENTS_CERTIFICATE_PATH, not both\.$/,
    ],
    [
      "sync",
      { ELEMENTS_API_URL: "", ELEMENTS_REGION: "mars" },
      /ELEMENTS_REGION must be "commercial".*gov.*de.*; got "mars"\.$/,
    ],
    [
      "sync",
      { ELEMENTS_API_URL: "127.0.0.1:8080" },
      /ELEMENTS_API_URL must be an http\(s\) URL without a user name or password; got "127\.0\.0\.1:8080"\.$/,
    ],
    [
      "sync",
      { ELEMENTS_IDENTITY_URL: "file:///etc/passwd" },
      /ELEMENTS_IDENTITY_URL must be an http\(s\) URL/,
    ],
    ["sync", { ELEMENTS_SCOPE: "   " }, /ELEMENTS_SCOPE must be a non-empty scope/],
    [
      "sync",
      { ELEMENTS_RESOURCES: "services,jobs" },
      /ELEMENTS_RESOURCES names services and jobs without customers: .*; add customers\.$/,
    ],
    [
      "start",
      { ELEMENTS_RESOURCES: "customers,servces" },
      /ELEMENTS_RESOURCES: "servces" is not a resource; .* Did you mean "services"\?$/,
    ],
    [
      "sync",
      { ELEMENTS_JOBS_FOR_STATUS: "failed" },
      /ELEMENTS_JOBS_FOR_STATUS: "failed" is not a customer job-status code; list codes \(0 N\/A, .*\), separated by commas\.$/,
    ],
    [
      "sync",
      { ELEMENTS_PAGE_SIZE: "1001" },
      /ELEMENTS_PAGE_SIZE must be an integer from 1 to 1000.*; got "1001"\.$/,
    ],
    [
      "sync",
      { ELEMENTS_TIMEOUT_MS: "30s" },
      /ELEMENTS_TIMEOUT_MS must be a number of milliseconds from 100 to 600000; got "30s"\.$/,
    ],
    [
      "sync",
      { ELEMENTS_MAX_ATTEMPTS: "0" },
      /ELEMENTS_MAX_ATTEMPTS must be an integer from 1 to 20; got "0"\.$/,
    ],
    [
      "sync",
      { ELEMENTS_MAX_RETRY_TIME_MS: "-1" },
      /ELEMENTS_MAX_RETRY_TIME_MS must be a number of milliseconds from 0 to 3600000/,
    ],
    ["sync", { ELEMENTS_CONCURRENCY: "0" }, /ELEMENTS_CONCURRENCY must be an integer from 1 to 32/],
    [
      "sync",
      { ELEMENTS_MAX_RESPONSE_BYTES: "50MB" },
      /ELEMENTS_MAX_RESPONSE_BYTES must be a number of bytes from 1024 to 2147483647; got "50MB"\.$/,
    ],
    [
      "sync",
      { MAX_REMOVAL_FRACTION: "20%" },
      /MAX_REMOVAL_FRACTION must be a fraction from 0 to 1.*; got "20%"\.$/,
    ],
    [
      "sync",
      { DATABASE_QUERY_TIMEOUT_MS: "10m" },
      /DATABASE_QUERY_TIMEOUT_MS must be a number of milliseconds from 1000 to 86400000; got "10m"\.$/,
    ],
    [
      "migrate",
      { DATABASE_QUERY_TIMEOUT_MS: "0" },
      /DATABASE_QUERY_TIMEOUT_MS must be a number of milliseconds from 1000 to 86400000; got "0"\.$/,
    ],
    [
      "sync",
      { LOG_LEVEL: "loud" },
      /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "loud"\.$/,
    ],
    ["migrate", { LOG_LEVEL: "verbose" }, /LOG_LEVEL must be one of/],
    [
      "sync",
      { LOG_FORMAT: "xml" },
      /LOG_FORMAT must be "auto" \(the default: "pretty" on a terminal, else "json"\), "json" or "pretty"; got "xml"\.$/,
    ],
    [
      "status",
      { SYNC_CRON: "every day" },
      /SYNC_CRON must be a cron expression.*; got "every day"\.$/,
    ],
    [
      "status",
      { SYNC_TIMEZONE: "Mars/Olympus" },
      /SYNC_TIMEZONE must be an IANA time zone.*; got "Mars\/Olympus"\.$/,
    ],
    ["status", { SYNC_ON_START: "yes" }, /SYNC_ON_START must be "true" or "false"; got "yes"\.$/],
    ["status", { HTTP_PORT: "65536" }, /HTTP_PORT must be a port number from 1 to 65535, or 0/],
  ];

  it.concurrent.each(cases)("%s with %j", async (command, variables, message) => {
    const result = await runCli([command], { ...env, ...variables });
    expectOneLine(
      result,
      2,
      new RegExp(`^elements-sync ${command}: configuration error: ${message.source}`),
    );
    expect(result.stderr).not.toContain("hunter2");
  });

  it("leaves the database untouched by any of them", async () => {
    // Runs after the concurrent cases above, which share this database.
    expect(await publicTables(empty)).toEqual([]);
  });
});

describe("several invalid variables: one line each, exit 2, nothing written", () => {
  it("names every bad variable of every concern the command reads", async () => {
    const result = await runCli(["sync"], {
      ...env,
      DATABASE_URL: "mysql://u:hunter2@h/db",
      ELEMENTS_PAGE_SIZE: "abc",
      MAX_REMOVAL_FRACTION: "20%",
      LOG_LEVEL: "loud",
      // Not read by sync: must not be reported.
      SYNC_CRON: "every day",
    });
    const prefix = "elements-sync sync: configuration error: ";
    expect(result.stderr.trim().split("\n")).toEqual([
      `${prefix}DATABASE_URL must be a PostgreSQL URL such as postgresql://user:password@host:5432/database; the value given is not.`,
      `${prefix}ELEMENTS_PAGE_SIZE must be an integer from 1 to 1000 (the API documents 100 as its maximum); got "abc".`,
      `${prefix}MAX_REMOVAL_FRACTION must be a fraction from 0 to 1 such as 0.2 (1 turns the mass-removal guard off); got "20%".`,
      `${prefix}LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "loud".`,
    ]);
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
    expect(await publicTables(empty)).toEqual([]);
  });
});

describe("a secret file that cannot be used: exit 2, one line naming the variable and the file", () => {
  const content = "hunter2-secret-in-a-file";
  let files: string;
  beforeAll(() => {
    files = join(dir, "secrets");
    mkdirSync(files, { recursive: true });
  });

  function secretFile(name: string, text: string): string {
    const path = join(files, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  const fileCases: [
    what: string,
    command: string,
    variables: () => Record<string, string>,
    message: (variables: Record<string, string>) => string,
  ][] = [
    [
      "DATABASE_URL and DATABASE_URL_FILE both set",
      "sync",
      () => ({ DATABASE_URL_FILE: secretFile("both-db", `${empty.url}\n`) }),
      () => "Set either DATABASE_URL or DATABASE_URL_FILE, not both.",
    ],
    [
      "ELEMENTS_CLIENT_SECRET and its file both set",
      "sync",
      () => ({ ELEMENTS_CLIENT_SECRET_FILE: secretFile("both-secret", `${content}\n`) }),
      () => "Set either ELEMENTS_CLIENT_SECRET or ELEMENTS_CLIENT_SECRET_FILE, not both.",
    ],
    [
      "the passphrase and its file both set",
      "sync",
      () => ({
        ELEMENTS_CLIENT_SECRET: "",
        ELEMENTS_CERTIFICATE_PATH: certificate.combinedPemPath,
        ELEMENTS_CERTIFICATE_PASSPHRASE: content,
        ELEMENTS_CERTIFICATE_PASSPHRASE_FILE: secretFile("both-passphrase", content),
      }),
      () =>
        "Set either ELEMENTS_CERTIFICATE_PASSPHRASE or ELEMENTS_CERTIFICATE_PASSPHRASE_FILE, not both.",
    ],
    [
      "a missing DATABASE_URL_FILE",
      "migrate",
      () => ({ DATABASE_URL: "", DATABASE_URL_FILE: join(files, "no-such-file") }),
      (v) => `DATABASE_URL_FILE cannot be read (${v.DATABASE_URL_FILE ?? ""}): ENOENT.`,
    ],
    [
      "a directory as ELEMENTS_CLIENT_SECRET_FILE",
      "sync",
      () => ({ ELEMENTS_CLIENT_SECRET: "", ELEMENTS_CLIENT_SECRET_FILE: files }),
      (v) =>
        `ELEMENTS_CLIENT_SECRET_FILE cannot be read (${v.ELEMENTS_CLIENT_SECRET_FILE ?? ""}): EISDIR.`,
    ],
    [
      "a DATABASE_URL_FILE holding only a newline",
      "status",
      () => ({ DATABASE_URL: "", DATABASE_URL_FILE: secretFile("empty-db", "\n") }),
      (v) => `DATABASE_URL_FILE (${v.DATABASE_URL_FILE ?? ""}) is empty; it must hold the value.`,
    ],
    [
      "an empty ELEMENTS_CLIENT_SECRET_FILE",
      "sync",
      () => ({ ELEMENTS_CLIENT_SECRET: "", ELEMENTS_CLIENT_SECRET_FILE: secretFile("empty", "") }),
      (v) =>
        `ELEMENTS_CLIENT_SECRET_FILE (${v.ELEMENTS_CLIENT_SECRET_FILE ?? ""}) is empty; it must hold the value.`,
    ],
    [
      "a missing passphrase file",
      "sync",
      () => ({
        ELEMENTS_CLIENT_SECRET: "",
        ELEMENTS_CERTIFICATE_PATH: certificate.combinedPemPath,
        ELEMENTS_CERTIFICATE_PASSPHRASE_FILE: join(files, "missing-passphrase"),
      }),
      (v) =>
        `ELEMENTS_CERTIFICATE_PASSPHRASE_FILE cannot be read (${v.ELEMENTS_CERTIFICATE_PASSPHRASE_FILE ?? ""}): ENOENT.`,
    ],
    [
      "a DATABASE_URL_FILE that holds no PostgreSQL URL",
      "migrate",
      () => ({
        DATABASE_URL: "",
        DATABASE_URL_FILE: secretFile("not-a-url", `mysql://u:${content}@h/db\n`),
      }),
      (v) =>
        `DATABASE_URL from DATABASE_URL_FILE (${v.DATABASE_URL_FILE ?? ""}) must be a PostgreSQL URL such as postgresql://user:password@host:5432/database; the value given is not.`,
    ],
  ];

  it.concurrent.each(fileCases)("%s (%s)", async (_what, command, variables, message) => {
    const given = variables();
    const result = await runCli([command], { ...env, ...given });
    expect(result.stderr.trim().split("\n")).toEqual([
      `elements-sync ${command}: configuration error: ${message(given)}`,
    ]);
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain(content);
  });

  it("leaves the database untouched and asks the identity service nothing", async () => {
    // Runs after the concurrent cases above, which share this database and simulator.
    expect(await publicTables(empty)).toEqual([]);
    expect(simulator.requests).toEqual([]);
  });
});

describe("an unusable certificate: exit 2 before anything is written", () => {
  function pemFile(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  function encryptedKeyWithCertificate(passphrase: string): string {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const key = privateKey.export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase,
    });
    // Any certificate will do: the key is decrypted (or not) before it is matched.
    return `${key.toString()}${certificate.certificatePem}`;
  }

  const certificateCases: [
    what: string,
    file: () => string,
    passphrase: string | undefined,
    message: RegExp,
  ][] = [
    [
      "a missing file",
      () => join(dir, "no-such.pem"),
      undefined,
      /ELEMENTS_CERTIFICATE_PATH cannot be read \(.*no-such\.pem\): ENOENT\.$/,
    ],
    [
      "a directory",
      () => {
        const path = join(dir, "a-directory");
        mkdirSync(path, { recursive: true });
        return path;
      },
      undefined,
      /ELEMENTS_CERTIFICATE_PATH cannot be read \(.*a-directory\): EISDIR\.$/,
    ],
    [
      "a file that is not PEM",
      () => pemFile("not-pem.pem", "just some text\n"),
      undefined,
      /ELEMENTS_CERTIFICATE_PATH \(.*\) holds no PEM certificate; it must contain the certificate and its private key\.$/,
    ],
    [
      "a private key without its certificate",
      () => pemFile("key-only.pem", certificate.privateKeyPem),
      undefined,
      /holds no PEM certificate/,
    ],
    [
      "a certificate without its key",
      () => pemFile("cert-only.pem", certificate.certificatePem),
      undefined,
      /ELEMENTS_CERTIFICATE_PATH \(.*\) holds no usable private key; put the private key and the certificate in one PEM file\.$/,
    ],
    [
      "a key that does not match the certificate",
      () => pemFile("mismatch.pem", otherCertificate.privateKeyPem + certificate.certificatePem),
      undefined,
      /The private key in .*mismatch\.pem does not belong to its certificate\.$/,
    ],
    [
      "an encrypted key without a passphrase",
      () => pemFile("encrypted.pem", encryptedKeyWithCertificate("right horse")),
      undefined,
      /The private key in .* is encrypted; set ELEMENTS_CERTIFICATE_PASSPHRASE\.$/,
    ],
    [
      "a wrong passphrase",
      () => pemFile("encrypted-2.pem", encryptedKeyWithCertificate("right horse")),
      "wrong battery",
      /ELEMENTS_CERTIFICATE_PASSPHRASE does not decrypt the private key in .*\.$/,
    ],
  ];

  it.concurrent.each(certificateCases)("%s", async (_what, file, passphrase, message) => {
    const result = await runCli(["sync"], {
      ...env,
      ELEMENTS_CLIENT_SECRET: "",
      ELEMENTS_CERTIFICATE_PATH: file(),
      ...(passphrase === undefined ? {} : { ELEMENTS_CERTIFICATE_PASSPHRASE: passphrase }),
    });
    expectOneLine(
      result,
      2,
      new RegExp(`^elements-sync sync: configuration error: .*${message.source}`),
    );
    expect(result.stderr).not.toContain("wrong battery");
  });

  it("leaves the database untouched and asks the identity service nothing", async () => {
    expect(await publicTables(empty)).toEqual([]);
    expect(simulator.requests).toEqual([]);
  });
});

describe("a database that cannot be used: exit 1, one line naming it, never its password", () => {
  const password = "n0t-th1s-pa55word";

  /** Every command that opens DATABASE_URL, with the arguments it needs to get that far. */
  const databaseCommands = [
    ["sync"],
    ["migrate"],
    ["status"],
    ["report", "runs"],
    ["bi-access", "bi_reader", "--password-file", "password"],
  ];
  const input = { files: { password: "bi-password\n" } };

  it.concurrent.each(databaseCommands)("%s: nothing listens on the port", async (...args) => {
    const port = await freePort();
    const url = `postgresql://someone:${password}@127.0.0.1:${port}/elements`;
    const result = await runCli(args, { ...env, DATABASE_URL: url }, input);
    expectOneLine(
      result,
      1,
      new RegExp(
        `^elements-sync ${args[0]}: cannot connect to the database postgresql://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/elements \\(DATABASE_URL\\): connect ECONNREFUSED`,
      ),
    );
    expect(result.stderr).not.toContain(password);
  });

  it.concurrent.each(databaseCommands)(
    "%s: a password in the query string (password=, sslpassword=) is hidden too",
    async (...args) => {
      const port = await freePort();
      const url = `postgresql://someone@127.0.0.1:${port}/elements?sslmode=disable&password=${password}&sslpassword=${password}x`;
      const result = await runCli(args, { ...env, DATABASE_URL: url }, input);
      expectOneLine(
        result,
        1,
        new RegExp(
          `^elements-sync ${args[0]}: cannot connect to the database postgresql://someone@127\\.0\\.0\\.1:${port}/elements\\?sslmode=disable&password=\\*\\*\\*&sslpassword=\\*\\*\\* \\(DATABASE_URL\\): connect ECONNREFUSED`,
        ),
      );
      expect(result.stderr).not.toContain(password);
    },
  );

  // Every command opens the database with the same connect timeout (src/db.ts): none waits
  // for the operating system's TCP timeout, or forever, on a server that never answers.
  it.concurrent.each(databaseCommands)(
    "%s: the server accepts the connection and never answers",
    async (...args) => {
      const server = await silentServer();
      try {
        const url = `postgresql://someone:${password}@127.0.0.1:${server.port}/elements`;
        const result = await runCli(args, { ...env, DATABASE_URL: url }, input);
        expectOneLine(
          result,
          1,
          new RegExp(
            `^elements-sync ${args[0]}: cannot connect to the database postgresql://someone:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}/elements \\(DATABASE_URL\\): Connection terminated due to connection timeout$`,
          ),
        );
        expect(server.connections()).toBeGreaterThan(0);
      } finally {
        await server.close();
      }
    },
  );

  it("sync: the URL read from DATABASE_URL_FILE is named the same way", async () => {
    const port = await freePort();
    const url = `postgresql://someone:${password}@127.0.0.1:${port}/elements`;
    const file = join(dir, "unreachable-database-url");
    writeFileSync(file, `${url}\n`, { mode: 0o600 });
    const result = await runCli(["sync"], { ...env, DATABASE_URL: "", DATABASE_URL_FILE: file });
    expectOneLine(
      result,
      1,
      new RegExp(
        `^elements-sync sync: cannot connect to the database postgresql://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/elements \\(DATABASE_URL\\): connect ECONNREFUSED`,
      ),
    );
    expect(result.stderr).not.toContain(password);
  });

  /** The test database's URL with `change` applied and a password added. */
  function databaseUrl(change: (url: URL) => void): string {
    const url = new URL(empty.url);
    change(url);
    url.password = password;
    return url.toString();
  }

  it.concurrent.each([
    [
      "a host that does not resolve",
      (url: URL) => (url.hostname = "db.invalid"),
      /getaddrinfo ENOTFOUND db\.invalid/,
    ],
    [
      "a database that does not exist",
      (url: URL) => (url.pathname = "/es_no_such_db"),
      /database "es_no_such_db" does not exist/,
    ],
    [
      "a role that does not exist",
      (url: URL) => (url.username = "no_such_role"),
      /role "no_such_role" does not exist/,
    ],
  ])("sync: %s", async (_what, change, message) => {
    const result = await runCli(["sync"], { ...env, DATABASE_URL: databaseUrl(change) });
    expectOneLine(
      result,
      1,
      new RegExp(
        `^elements-sync sync: cannot connect to the database postgresql://.*:\\*\\*\\*@.* \\(DATABASE_URL\\): ${message.source}$`,
      ),
    );
    expect(result.stderr).not.toContain(password);
  });
});

describe("a tampered _prisma_migrations: exit 1, one line, nothing applied", () => {
  interface Snapshot {
    tables: string[];
    history: unknown[];
    runs: unknown[];
    customers: unknown[];
  }

  async function snapshot(db: TestDatabase): Promise<Snapshot> {
    const tables = await publicTables(db);
    const history = tables.includes("public._prisma_migrations")
      ? await db.query(
          `SELECT id, checksum, migration_name, finished_at FROM "_prisma_migrations" ORDER BY id`,
        )
      : [];
    return {
      tables,
      history,
      runs: await db.query("SELECT id, status, finished_at FROM sync_runs ORDER BY id"),
      customers: await db.query("SELECT id, job_status, last_seen_at FROM customers ORDER BY id"),
    };
  }

  /** A database migrated and synced once, so there is data to keep. */
  async function syncedDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase("es_tampered");
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    const first = await runCli(["sync", "--no-migrate"], { ...env, DATABASE_URL: db.url });
    expect(first.code, first.stderr).toBe(0);
    return db;
  }

  const tamperings: [what: string, sql: (first: string) => string, message: RegExp][] = [
    [
      "a changed checksum",
      (first) =>
        `UPDATE "_prisma_migrations" SET checksum = repeat('0', 64) WHERE migration_name = '${first}'`,
      /^Nothing was migrated\. Migration \d+_init was changed after it was applied \(checksum [0-9a-f]{64} on disk, 0{64} in _prisma_migrations\), or its row there was edited\. Restore the original file/,
    ],
    [
      "a row for a migration this version does not know",
      () =>
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
         VALUES (gen_random_uuid(), repeat('a', 64), '29991231000000_future', now(), 1)`,
      /^Nothing was migrated\. Migration 29991231000000_future is applied to the database but is not in this version of elements-sync.*Upgrade elements-sync\.$/,
    ],
    [
      "a migration recorded as unfinished",
      (first) =>
        `UPDATE "_prisma_migrations" SET finished_at = NULL WHERE migration_name = '${first}'`,
      /^Nothing was migrated\. Migration \d+_init failed earlier and is recorded as unfinished.*prisma migrate resolve/,
    ],
    [
      "the row of the first migration deleted",
      (first) => `DELETE FROM "_prisma_migrations" WHERE migration_name = '${first}'`,
      /^Migration \d+_init failed and was rolled back: relation "customers" already exists\. The database already has what this migration creates, but _prisma_migrations does not record it.*prisma migrate resolve --applied \d+_init`\.$/,
    ],
    [
      "the table dropped while the schema exists",
      () => `DROP TABLE "_prisma_migrations"`,
      /^Migration \d+_init failed and was rolled back: relation "customers" already exists\. .*_prisma_migrations does not record it/,
    ],
  ];

  it.concurrent.each(tamperings)("%s", async (_what, tamper, message) => {
    const [first] = await readMigrations(MIGRATIONS_DIR);
    const db = await syncedDatabase();
    try {
      await db.query(tamper(first?.name ?? ""));
      const before = await snapshot(db);
      for (const command of ["migrate", "sync"]) {
        const result = await runCli([command], { ...env, DATABASE_URL: db.url });
        expectOneLine(
          result,
          1,
          new RegExp(`^elements-sync ${command}: ${message.source.slice(1)}`),
        );
        expect(await snapshot(db)).toEqual(before);
      }
    } finally {
      await db.drop();
    }
  });
});

/** A TCP server that accepts connections and never sends a byte: a database that hangs. */
async function silentServer(): Promise<{
  port: number;
  connections(): number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
