// A wrong certificate passphrase is named as such every time: most wrong passphrases fail
// the decryption's padding check, but about one in 256 passes it and the garbage then fails
// to parse. Both must read "does not decrypt", never "holds no usable private key".
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSigningCertificate } from "../../src/elements/auth.ts";
import { createTestCertificate } from "../support/certificate.ts";

const certificate = createTestCertificate();
const dir = mkdtempSync(join(tmpdir(), "elements-sync-passphrase-"));
afterAll(() => {
  rmSync(dir, { recursive: true });
  rmSync(certificate.dir, { recursive: true });
});

const key = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" })
  .toString();
const file = join(dir, "encrypted.pem");
writeFileSync(file, `${key}${certificate.certificatePem}`);

/** The first wrong passphrase whose failure is (or is not) the padding check's. */
function wrongPassphrase(padding: boolean): string {
  for (let i = 0; i < 10_000; i += 1) {
    const candidate = `wrong-${i}`;
    try {
      createPrivateKey({ key, passphrase: candidate });
    } catch (error) {
      const badDecrypt = (error as NodeJS.ErrnoException).code === "ERR_OSSL_BAD_DECRYPT";
      if (badDecrypt === padding) return candidate;
    }
  }
  throw new Error("no such passphrase in 10,000 tries");
}

describe("a wrong certificate passphrase", () => {
  for (const padding of [true, false]) {
    it(`is named, whether the padding check ${padding ? "fails" : "passes"}`, () => {
      expect(() => loadSigningCertificate(file, wrongPassphrase(padding))).toThrow(
        /ELEMENTS_CERTIFICATE_PASSPHRASE does not decrypt the private key/,
      );
    });
  }
});
