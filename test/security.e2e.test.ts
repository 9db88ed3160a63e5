// Security properties, end to end: secrets never reach output, TLS certificate checks stay
// on, and customer data only ever travels into SQL as parameters.
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import { ESLint } from "eslint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createElementsClient } from "../src/elements/client.ts";
import { createLogger } from "../src/logger.ts";
import { writeCustomersFile } from "../src/simulator/data.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { createTestCertificate, type TestCertificate } from "./support/certificate.ts";
import { freePort, parseLogLines, runCli, simulatorEnv } from "./support/cli.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { createHarness, sampleCustomers } from "./support/harness.ts";
import { expectInvariants } from "./support/invariants.ts";
import { startTlsProxy, type TlsProxy } from "./support/tls-proxy.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const CLIENT_SECRET = "Cl1ent+Secret/with=odd&chars";
const PASSPHRASE = "correct horse battery staple";
const DB_PASSWORD = "Db-Pa55word-never-shown";

let db: TestDatabase;
let dir: string;
let secretSimulator: Simulator;
let certificateSimulator: Simulator;
let certificate: TestCertificate;
/** The private key encrypted under PASSPHRASE, followed by the certificate. */
let encryptedPemPath: string;
let encryptedKeyPem: string;

beforeAll(async () => {
  db = await createTestDatabase("es_security");
  dir = mkdtempSync(join(tmpdir(), "elements-sync-security-"));
  const dataFile = join(dir, "customers.json");
  await writeCustomersFile(dataFile, sampleCustomers(15));
  certificate = createTestCertificate();
  encryptedKeyPem = createPrivateKey(certificate.privateKeyPem)
    .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE })
    .toString();
  encryptedPemPath = join(dir, "app.pem");
  writeFileSync(encryptedPemPath, encryptedKeyPem + certificate.certificatePem, { mode: 0o600 });
  secretSimulator = await startSimulator({ dataFile, clientSecret: CLIENT_SECRET });
  certificateSimulator = await startSimulator({
    dataFile,
    certificatePem: certificate.certificatePem,
  });
});

afterAll(async () => {
  await secretSimulator.close();
  await certificateSimulator.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(certificate.dir, { recursive: true, force: true });
});

/** DATABASE_URL of the test database with a password (trust auth accepts any). */
function urlWithPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = DB_PASSWORD;
  return parsed.toString();
}

/** The lines between a PEM's BEGIN and END markers. */
function pemBody(pem: string): string[] {
  return pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
}

interface EchoServer {
  url: string;
  /** What each request carried: its authorization header and its body. */
  received: string[];
  close(): Promise<void>;
}

/**
 * A hostile server that answers every request with `status` and a body echoing what it
 * was sent: the bearer token, or the token request's form with its secret or assertion.
 */
async function startEchoServer(status: number): Promise<EchoServer> {
  const received: string[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const authorization = request.headers.authorization ?? "";
      received.push(authorization, body);
      const echo = JSON.stringify({ error: "refused", authorization, body });
      response.writeHead(status, { "content-type": "application/json" }).end(echo);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

describe("secrets never reach logs or error output", () => {
  const outputs: string[] = [];
  const echoed: string[] = [];

  async function run(
    args: string[],
    env: Record<string, string>,
  ): Promise<Awaited<ReturnType<typeof runCli>>> {
    const result = await runCli(args, { LOG_LEVEL: "trace", ...env });
    outputs.push(result.stdout + result.stderr);
    return result;
  }

  function secretEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      ...simulatorEnv(urlWithPassword(db.url), secretSimulator.url),
      ELEMENTS_CLIENT_SECRET: CLIENT_SECRET,
      ELEMENTS_MAX_ATTEMPTS: "1",
      ...overrides,
    };
  }

  function certificateEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      ...simulatorEnv(urlWithPassword(db.url), certificateSimulator.url),
      ELEMENTS_CLIENT_SECRET: "",
      ELEMENTS_CERTIFICATE_PATH: encryptedPemPath,
      ELEMENTS_CERTIFICATE_PASSPHRASE: PASSPHRASE,
      ELEMENTS_MAX_ATTEMPTS: "1",
      ...overrides,
    };
  }

  it("succeeding paths: migrate, sync with a secret and with a certificate, status", async () => {
    expect((await run(["migrate"], secretEnv())).code).toBe(0);
    const withSecret = await run(["sync"], secretEnv());
    expect(withSecret.stdout).toMatch(/^run \d+ succeeded/);
    const withCertificate = await run(["sync"], certificateEnv());
    expect(withCertificate.stdout).toMatch(/^run \d+ succeeded/);
    // Trace level did log: the token fetch is there, without the token.
    expect(parseLogLines(withCertificate.stderr).map((line) => line.msg)).toContain(
      "fetched an access token",
    );
    expect((await run(["status"], secretEnv())).code).toBe(0);
    await expectInvariants(db);
  });

  it("succeeding paths with every secret read from a file (<NAME>_FILE)", async () => {
    // As Docker and Kubernetes secrets provide them: one value per file, with a trailing newline.
    const secretFile = (name: string, value: string) => {
      const path = join(dir, name);
      writeFileSync(path, `${value}\n`, { mode: 0o600 });
      return path;
    };
    const fromFiles = {
      DATABASE_URL: "",
      DATABASE_URL_FILE: secretFile("database-url", urlWithPassword(db.url)),
    };
    const runsBefore = await db.query("SELECT id FROM sync_runs");
    const withSecret = await run(
      ["sync"],
      secretEnv({
        ...fromFiles,
        ELEMENTS_CLIENT_SECRET: "",
        ELEMENTS_CLIENT_SECRET_FILE: secretFile("client-secret", CLIENT_SECRET),
      }),
    );
    expect(withSecret.stdout, withSecret.stderr).toMatch(/^run \d+ succeeded/);
    const withCertificate = await run(
      ["sync"],
      certificateEnv({
        ...fromFiles,
        ELEMENTS_CERTIFICATE_PASSPHRASE: "",
        ELEMENTS_CERTIFICATE_PASSPHRASE_FILE: secretFile("passphrase", PASSPHRASE),
      }),
    );
    expect(withCertificate.stdout, withCertificate.stderr).toMatch(/^run \d+ succeeded/);
    expect(await db.query("SELECT id FROM sync_runs")).toHaveLength(runsBefore.length + 2);
    expect((await run(["status"], secretEnv(fromFiles))).code).toBe(0);
    await expectInvariants(db);
  });

  it("the identity service echoes the client secret in its error", async () => {
    const formEncoded = new URLSearchParams({ client_secret: CLIENT_SECRET }).toString();
    secretSimulator.injectFault({
      endpoint: "token",
      status: 400,
      body: JSON.stringify({
        error: "invalid_client",
        error_description: `client_secret ${CLIENT_SECRET} is not valid (${formEncoded})`,
      }),
    });
    const result = await run(["sync", "--no-migrate"], secretEnv());
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /refused the app's credentials, 400 \(invalid_client: client_secret \[redacted\] is not valid \(client_secret=\[redacted\]\)\)/,
    );
  });

  it("the identity service echoes the signed client assertion", async () => {
    const identity = await startEchoServer(401);
    try {
      const result = await run(
        ["sync", "--no-migrate"],
        certificateEnv({ ELEMENTS_IDENTITY_URL: identity.url }),
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("The identity service refused the app's credentials, 401");
      expect(identity.received.join("")).toContain("client_assertion=");
      echoed.push(...identity.received);
    } finally {
      await identity.close();
    }
  });

  it.each([401, 500])("the API answers %i echoing the bearer token it was sent", async (status) => {
    const api = await startEchoServer(status);
    try {
      const result = await run(["sync", "--no-migrate"], secretEnv({ ELEMENTS_API_URL: api.url }));
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(`failed after .*\\(${status}\\)|answered ${status}`),
      );
      expect(api.received.join("")).toMatch(/^Bearer \S{20,}/);
      echoed.push(...api.received);
    } finally {
      await api.close();
    }
  });

  it.each(["sync", "migrate", "status"])(
    "%s: a database URL with a password that cannot be reached",
    async (command) => {
      const port = await freePort();
      const result = await run([command], {
        ...secretEnv(),
        DATABASE_URL: `postgresql://elements:${DB_PASSWORD}@127.0.0.1:${port}/elements`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("cannot connect to the database");
    },
  );

  it("a wrong passphrase is reported without the passphrase", async () => {
    const result = await run(
      ["sync", "--no-migrate"],
      certificateEnv({ ELEMENTS_CERTIFICATE_PASSPHRASE: `${PASSPHRASE}!` }),
    );
    expect(result.code).toBe(2);
  });

  it("no output of any of them holds a secret", () => {
    const issued = [...secretSimulator.issuedTokens(), ...certificateSimulator.issuedTokens()];
    // Bearer tokens the echo servers were sent, and the assertions they were sent.
    const sent = echoed
      .flatMap((text) => [
        text.replace(/^Bearer /, ""),
        new URLSearchParams(text).get("client_assertion") ?? "",
      ])
      .filter((value) => value.length >= 20 && !value.includes("grant_type"));
    expect(issued.length).toBeGreaterThanOrEqual(4);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    const secrets = [
      CLIENT_SECRET,
      encodeURIComponent(CLIENT_SECRET),
      PASSPHRASE,
      DB_PASSWORD,
      ...pemBody(certificate.privateKeyPem),
      ...pemBody(encryptedKeyPem),
      ...issued,
      ...sent,
    ];
    const all = outputs.join("\n");
    expect(outputs.length).toBeGreaterThanOrEqual(10);
    for (const secret of secrets) expect(all).not.toContain(secret);
  });
});

describe("an API error echoing the bearer token", () => {
  it("is redacted even when the token does not look random", async () => {
    // Lower-case hex: the token-like pattern alone would let it through.
    const token = "0123456789abcdef0123456789abcdef01234567";
    const server = createServer((request, response) => {
      const sent = (request.headers.authorization ?? "").replace(/^Bearer /, "");
      response.writeHead(500, { "content-type": "text/plain" }).end(`no access for ${sent}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const client = createElementsClient({
        apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        tokens: { get: () => Promise.resolve(token), invalidate: () => undefined },
        log: createLogger("silent"),
        timeoutMs: 5_000,
        maxAttempts: 1,
        maxRetryTimeMs: 5_000,
      });
      const failure = await client
        .fetchPage({ pageIndex: 1, pageSize: 5 })
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toContain("no access for [redacted]");
      expect((failure as Error).message).not.toContain(token);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("the logger redacts secret-bearing fields, as a second line of defence", () => {
  it("censors them at the top level and one level down", () => {
    let written = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    const log = createLogger("trace", sink);
    log.trace(
      {
        client_secret: CLIENT_SECRET,
        connectionString: `postgresql://u:${DB_PASSWORD}@h/d`,
        request: { authorization: "Bearer leaked-token-1", token: "leaked-token-2" },
        options: { passphrase: PASSPHRASE },
      },
      "a careless log line",
    );
    expect(written).toContain("a careless log line");
    expect(written.match(/\[redacted\]/g)).toHaveLength(5);
    for (const secret of [CLIENT_SECRET, DB_PASSWORD, "leaked-token", PASSPHRASE]) {
      expect(written).not.toContain(secret);
    }
  });
});

describe("TLS certificate checks stay on", () => {
  let proxy: TlsProxy;
  let tlsDb: TestDatabase;
  let simulator: Simulator;

  beforeAll(async () => {
    tlsDb = await createTestDatabase("es_tls");
    simulator = await startSimulator({ customers: 8, seed: 3 });
    proxy = await startTlsProxy(simulator.url);
  });

  afterAll(async () => {
    await proxy.close();
    await simulator.close();
    await tlsDb.drop();
  });

  function tlsEnv(overrides: Record<string, string>): Record<string, string> {
    // Default attempts and backoff: a retried certificate failure would take about a minute.
    return { ...simulatorEnv(tlsDb.url, simulator.url), ...overrides };
  }

  function expectRefusedAtOnce(result: Awaited<ReturnType<typeof runCli>>, who: RegExp): void {
    expect(result.code).toBe(1);
    const summary = result.stdout.trim().split("\n");
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatch(
      new RegExp(
        `^run \\d+ failed after [\\d.]+ s: The TLS certificate of ${who.source} is not trusted \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)\\. .*set NODE_EXTRA_CA_CERTS to that CA's PEM file`,
      ),
    );
    const messages = parseLogLines(result.stderr).map((line) => line.msg);
    expect(messages).not.toContain("customers request failed; retrying");
  }

  it("refuses an identity service whose certificate is not trusted, without retrying", async () => {
    const result = await runCli(
      ["sync"],
      tlsEnv({ ELEMENTS_API_URL: proxy.url, ELEMENTS_IDENTITY_URL: proxy.url }),
    );
    expectRefusedAtOnce(
      result,
      /the identity service at https:\/\/127\.0\.0\.1:\d+\/connect\/token/,
    );
    expect(simulator.requests).toEqual([]);
  });

  it("refuses an API whose certificate is not trusted, without retrying", async () => {
    const result = await runCli(["sync", "--no-migrate"], tlsEnv({ ELEMENTS_API_URL: proxy.url }));
    expectRefusedAtOnce(result, /the Elements API/);
    expect(simulator.requests.filter((request) => request.path !== "/connect/token")).toEqual([]);
  });

  it("trusts the certificate once NODE_EXTRA_CA_CERTS names its CA", async () => {
    const result = await runCli(
      ["sync", "--no-migrate"],
      tlsEnv({
        ELEMENTS_API_URL: proxy.url,
        ELEMENTS_IDENTITY_URL: proxy.url,
        NODE_EXTRA_CA_CERTS: proxy.caPath,
      }),
    );
    expect(result.stdout).toMatch(/^run \d+ succeeded .*: 8 customers \(complete\)/);
    expect(result.code).toBe(0);
    await expectInvariants(tlsDb);
  });

  it("no file of the project turns certificate checks off", () => {
    const offenders = projectFiles()
      .filter((file) => file !== fileURLToPath(import.meta.url))
      .filter((file) =>
        /rejectUnauthorized\s*:\s*false|NODE_TLS_REJECT_UNAUTHORIZED|checkServerIdentity/.test(
          readFileSync(file, "utf8"),
        ),
      )
      .map((file) => relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});

/** Source, test, script and configuration files, without dependencies or generated code. */
function projectFiles(): string[] {
  const skipped = new Set(["node_modules", ".git", "generated", "coverage"]);
  const files: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (skipped.has(entry.name)) continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (/\.(ts|js|mjs|cjs|json|ya?ml|sh|toml)$|^Dockerfile|^\.env/.test(entry.name)) {
        files.push(child);
      }
    }
  };
  walk(ROOT);
  return files;
}

describe("all SQL takes data as parameters", () => {
  it("ESLint forbids $queryRawUnsafe and $executeRawUnsafe in src", async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const config = (await eslint.calculateConfigForFile(join(ROOT, "src/sync/sync.ts"))) as {
      rules: Record<string, unknown>;
    };
    const restricted = JSON.stringify(config.rules["no-restricted-properties"]);
    expect(restricted).toContain('"property":"$queryRawUnsafe"');
    expect(restricted).toContain('"property":"$executeRawUnsafe"');
    expect(restricted).toMatch(/^\[2,/);
  });

  it("stores customers whose text looks like SQL verbatim", async () => {
    const awkward = [
      "'; DROP TABLE customers; --",
      `Robert'); DELETE FROM sync_runs WHERE ('1' = '1`,
      "$1 $2::text $$ quoted $$ :name ? %s",
      "back\\slash \\' \\\\ \\x00 \\n",
      'double "quotes" and `backticks`',
      "emoji 🧨🐘 and ZWJ 👩‍👩‍👧 and RTL שלום and combining é",
      "tab\tnew\nline\r\ncarriage",
      "x".repeat(100_000),
    ];
    const customers = awkward.map((text, index) => ({
      id: index === 0 ? text : `${text.slice(0, 40)}-${index}`,
      organization: text,
      ownerEmail: `${text.slice(0, 30)}@example.com`,
      jobStatus: 0,
      countryOrRegion: text,
      managementMode: 0,
      tenants: [{ id: `tenant ${text.slice(0, 50)}`, name: text }],
    }));
    const harness = await createHarness({ customers, pageSize: 3 });
    try {
      const run = await harness.sync();
      expect(run).toMatchObject({ status: "succeeded", complete: true, rejectedRecords: 0 });
      await expectInvariants(harness.db);
      const stored = await harness.db.query<{
        id: string;
        organization: string;
        owner_email: string;
        country_or_region: string;
        tenant_id: string;
        tenant_name: string;
      }>(
        `SELECT c.id, c.organization, c.owner_email, c.country_or_region,
                t.id AS tenant_id, t.name AS tenant_name
         FROM customers c JOIN tenants t ON t.customer_id = c.id ORDER BY c.id`,
      );
      const expected = customers
        .map((customer) => ({
          id: customer.id,
          organization: customer.organization,
          owner_email: customer.ownerEmail,
          country_or_region: customer.countryOrRegion,
          tenant_id: customer.tenants[0]?.id,
          tenant_name: customer.tenants[0]?.name,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      expect(stored.map((row) => row.id).sort()).toEqual(expected.map((row) => row.id).sort());
      expect(new Set(stored.map((row) => JSON.stringify(row)))).toEqual(
        new Set(expected.map((row) => JSON.stringify(row))),
      );
      // Unchanged the second time: what was stored compares equal to what the API sends.
      const again = await harness.sync();
      expect(again).toMatchObject({ status: "succeeded", statusChanges: 0, customersAdded: 0 });
      await expectInvariants(harness.db);
      expect(await harness.db.query("SELECT count(*)::int AS n FROM customers")).toEqual([
        { n: awkward.length },
      ]);
    } finally {
      await harness.close();
    }
  });
});
