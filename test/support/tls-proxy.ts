// An HTTPS front for the simulator, with a throwaway CA of its own: the worker must refuse
// it until NODE_EXTRA_CA_CERTS names that CA. openssl makes the certificates (Node cannot).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TlsProxy {
  /** https://127.0.0.1:PORT, forwarding every request to the target. */
  url: string;
  /** PEM file of the CA that signed the proxy's certificate, for NODE_EXTRA_CA_CERTS. */
  caPath: string;
  close(): Promise<void>;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA and a server certificate for IP 127.0.0.1 signed by it, in `dir`. */
function createCertificates(dir: string): { caPath: string; keyPath: string; certPath: string } {
  const caPath = join(dir, "ca.pem");
  const caKeyPath = join(dir, "ca-key.pem");
  const keyPath = join(dir, "server-key.pem");
  const csrPath = join(dir, "server.csr");
  const certPath = join(dir, "server.pem");
  const extPath = join(dir, "server.ext");
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    caKeyPath,
    "-out",
    caPath,
    "-days",
    "1",
    "-subj",
    "/CN=elements-sync test CA",
  ]);
  openssl([
    "req",
    "-new",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    csrPath,
    "-subj",
    "/CN=127.0.0.1",
  ]);
  writeFileSync(extPath, "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n");
  openssl([
    "x509",
    "-req",
    "-in",
    csrPath,
    "-CA",
    caPath,
    "-CAkey",
    caKeyPath,
    "-CAcreateserial",
    "-out",
    certPath,
    "-days",
    "1",
    "-extfile",
    extPath,
  ]);
  return { caPath, keyPath, certPath };
}

export async function startTlsProxy(targetUrl: string): Promise<TlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), "elements-sync-tls-"));
  const { caPath, keyPath, certPath } = createCertificates(dir);
  const target = new URL(targetUrl);
  const server: Server = createServer(
    { key: readFileSync(keyPath), cert: readFileSync(certPath) },
    (incoming, outgoing) => {
      const forwarded = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: target.host },
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on("error", () => outgoing.destroy());
      incoming.pipe(forwarded);
    },
  );
  // A client that refuses the certificate drops the handshake; that is expected here.
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPath,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
