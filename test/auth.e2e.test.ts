// Token handling against the simulator's identity endpoint (real HTTP), and every way a
// certificate file can be unusable.
import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  createClientAssertion,
  createTokenSource,
  loadSigningCertificate,
  type TokenSourceOptions,
} from "../src/elements/auth.ts";
import { startSimulator, type Simulator } from "../src/simulator/server.ts";
import { createTestCertificate } from "./support/certificate.ts";
import { captureLogs } from "./support/harness.ts";

const certificate = createTestCertificate();
afterAll(() => {
  rmSync(certificate.dir, { recursive: true, force: true });
});

let simulator: Simulator | undefined;
afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

function tokenRequests(s: Simulator): number {
  return s.requests.filter((r) => r.path === "/connect/token").length;
}

/** A token source for the simulator's demo client. */
function demoTokens(s: Simulator, options: Partial<TokenSourceOptions> = {}) {
  return createTokenSource({
    identityUrl: s.url,
    clientId: "demo-client",
    credentials: { kind: "secret", clientSecret: "demo-secret" },
    scope: "elements.customers.read.all",
    timeoutMs: 5000,
    log: captureLogs().logger,
    ...options,
  });
}

describe("token source", () => {
  it("reuses a token until shortly before it expires, and replaces one the API refused", async () => {
    simulator = await startSimulator({ customers: 1, tokenLifetimeSeconds: 100 });
    let now = 1_000_000;
    const tokens = demoTokens(simulator, { now: () => now });
    const first = await tokens.get();
    now += 89_000; // a tenth of the lifetime before expiry: still reused
    expect(await tokens.get()).toBe(first);
    expect(tokenRequests(simulator)).toBe(1);
    now += 2_000;
    const second = await tokens.get();
    expect(second).not.toBe(first);
    expect(tokenRequests(simulator)).toBe(2);

    tokens.invalidate("some other token");
    expect(await tokens.get()).toBe(second);
    tokens.invalidate(second);
    expect(await tokens.get()).not.toBe(second);
    expect(tokenRequests(simulator)).toBe(3);
  });

  it("asks once for callers that need a token at the same time", async () => {
    simulator = await startSimulator({ customers: 1 });
    const tokens = demoTokens(simulator);
    const got = await Promise.all([tokens.get(), tokens.get(), tokens.get()]);
    expect(new Set(got).size).toBe(1);
    expect(tokenRequests(simulator)).toBe(1);
  });

  it("reports a 5xx or an unreachable identity service as retryable, naming the service", async () => {
    simulator = await startSimulator({ customers: 1 });
    simulator.injectFault({ endpoint: "token", status: 503 });
    await expect(demoTokens(simulator).get()).rejects.toMatchObject({
      kind: "retry",
      status: 503,
      message: expect.stringContaining("identity service answered 503") as unknown,
    });
    const unreachable = demoTokens(simulator, { identityUrl: "http://127.0.0.1:1" });
    await expect(unreachable.get()).rejects.toMatchObject({
      kind: "retry",
      message: expect.stringContaining("Could not reach the identity service") as unknown,
    });
  });
});

describe("token responses", () => {
  it.each([
    ['{"access_token":"abc","expires_in":120}', 120_000],
    ['{"access_token":"abc","expires_in":"120"}', 120_000],
    ['{"access_token":"abc"}', 3_600_000],
  ])("reads %s", async (body, lifetimeMs) => {
    simulator = await startSimulator({ customers: 1 });
    simulator.injectFault({ endpoint: "token", status: 200, body });
    let now = 0;
    const tokens = demoTokens(simulator, { now: () => now });
    expect(await tokens.get()).toBe("abc");
    now = lifetimeMs * 0.89; // still within the reuse window
    expect(await tokens.get()).toBe("abc");
    expect(tokenRequests(simulator)).toBe(1);
  });

  it.each([
    ["not json at all", /identity service answered with a body that is not JSON/],
    ['{"token":"abc"}', /not a token response \(access_token:/],
    ['{"access_token":"abc","expires_in":-5}', /not a token response \(expires_in:/],
  ])("refuses %s", async (body, message) => {
    simulator = await startSimulator({ customers: 1 });
    simulator.injectFault({ endpoint: "token", status: 200, body });
    await expect(demoTokens(simulator).get()).rejects.toThrow(message);
  });
});

describe("certificate files", () => {
  function file(name: string, content: string): string {
    const path = join(certificate.dir, name);
    writeFileSync(path, content);
    return path;
  }

  it("signs an RS256 assertion whose x5t is the certificate's SHA-1 thumbprint", () => {
    const signing = loadSigningCertificate(certificate.combinedPemPath, undefined);
    const assertion = createClientAssertion(
      signing,
      "app-id",
      "https://id.example/connect/token",
      1_700_000_000_000,
    );
    const [header, claims] = assertion
      .split(".")
      .slice(0, 2)
      .map(
        (part) => JSON.parse(Buffer.from(part, "base64url").toString()) as Record<string, unknown>,
      );
    const thumbprint = createHash("sha1")
      .update(new X509Certificate(certificate.certificatePem).raw)
      .digest("base64url");
    expect(header).toEqual({ alg: "RS256", typ: "JWT", x5t: thumbprint });
    expect(claims).toMatchObject({
      iss: "app-id",
      sub: "app-id",
      aud: "https://id.example/connect/token",
      iat: 1_700_000_000,
      exp: 1_700_000_300,
    });
    expect(claims?.jti).toEqual(expect.any(String));
  });

  it("opens an encrypted key with its passphrase and says what is wrong otherwise", () => {
    const encrypted = createPrivateKey(certificate.privateKeyPem)
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" })
      .toString();
    const path = file("encrypted.pem", encrypted + certificate.certificatePem);
    expect(loadSigningCertificate(path, "correct horse").thumbprint).toMatch(/^[\w-]{27}$/);
    expect(() => loadSigningCertificate(path, "wrong")).toThrow(
      /ELEMENTS_CERTIFICATE_PASSPHRASE does not decrypt/,
    );
    expect(() => loadSigningCertificate(path, undefined)).toThrow(
      /is encrypted; set ELEMENTS_CERTIFICATE_PASSPHRASE/,
    );
  });

  it.each([
    [
      "a missing file",
      () => "/nonexistent/elements.pem",
      /ELEMENTS_CERTIFICATE_PATH cannot be read .*ENOENT/,
    ],
    [
      "a key without a certificate",
      () => file("key-only.pem", certificate.privateKeyPem),
      /holds no PEM certificate/,
    ],
    [
      "a certificate without a key",
      () => file("cert-only.pem", certificate.certificatePem),
      /holds no usable private key/,
    ],
    [
      "a key that is not the certificate's",
      () => {
        const other = generateKeyPairSync("rsa", { modulusLength: 2048 })
          .privateKey.export({ type: "pkcs8", format: "pem" })
          .toString();
        return file("mismatch.pem", other + certificate.certificatePem);
      },
      /does not belong to its certificate/,
    ],
  ])("refuses %s", (_case, path, message) => {
    expect(() => loadSigningCertificate(path(), undefined)).toThrow(message);
  });
});
