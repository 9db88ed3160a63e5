// A throwaway RSA key and self-signed X.509 certificate for certificate (private_key_jwt)
// auth tests. Node can make the key but not a certificate, so openssl signs one.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** A file holding the private key PEM followed by the certificate PEM. */
  combinedPemPath: string;
  /** The temporary directory holding the files; remove it when done. */
  dir: string;
}

export function createTestCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "elements-sync-cert-"));
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const keyPath = join(dir, "key.pem");
  const certificatePath = join(dir, "cert.pem");
  writeFileSync(keyPath, privateKeyPem, { mode: 0o600 });
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-new",
      "-key",
      keyPath,
      "-out",
      certificatePath,
      "-days",
      "1",
      "-subj",
      "/CN=test",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const certificatePem = readFileSync(certificatePath, "utf8");
  const combinedPemPath = join(dir, "combined.pem");
  writeFileSync(combinedPemPath, privateKeyPem + certificatePem, { mode: 0o600 });
  return { certificatePem, privateKeyPem, combinedPemPath, dir };
}
