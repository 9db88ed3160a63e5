// The Kubernetes manifests of deploy/kubernetes, offline: each object validated against the
// Kubernetes API schemas (kubernetes-models), and the deployment held to what docs/operating.md and
// the worker promise: two replicas of `start`, probes on /healthz at the worker's port,
// scrape annotations, credentials from a Secret, memory from the measured figures, and a
// non-root, read-only container.
import { readdirSync, readFileSync } from "node:fs";
import { ConfigMap, Secret } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const root = new URL("../../", import.meta.url);
const dir = new URL("deploy/kubernetes/", root);
const read = (path: string | URL) => readFileSync(path, "utf8");

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
}

/** The model class that validates each kind this directory may hold. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};

const kustomization = parse(read(new URL("kustomization.yaml", dir))) as {
  resources: string[];
  images: { name: string; newName: string; newTag: string }[];
};
const files = readdirSync(dir).filter((name) => name !== "kustomization.yaml");
const manifests = files.flatMap((file) =>
  parseAllDocuments(read(new URL(file, dir))).map((doc) => ({
    file,
    object: doc.toJS() as Manifest,
  })),
);

/** The one object of this kind. */
function only(kind: string): unknown {
  const found = manifests.filter((m) => m.object.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]?.object;
}

interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds: number;
  failureThreshold: number;
}
interface Container {
  name: string;
  image: string;
  args: string[];
  envFrom: ({ configMapRef: { name: string } } | { secretRef: { name: string } })[];
  env: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef: { name: string; key: string } };
  }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  ports: { name: string; containerPort: number }[];
  startupProbe: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[] };
  };
}
interface DeploymentShape extends Manifest {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: { runAsNonRoot: boolean; runAsUser: number; fsGroup?: number };
        containers: Container[];
        volumes: { name: string; secret?: { secretName: string; defaultMode: number } }[];
      };
    };
  };
}
interface DataShape extends Manifest {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const deployment = only("Deployment") as DeploymentShape;
const [container] = deployment.spec.template.spec.containers;
const configMap = only("ConfigMap") as DataShape;
const secret = only("Secret") as DataShape;

/** Kubernetes quantities in bytes: 256Mi, 1Gi, 500M. */
function bytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * (match[2] ? unit[match[2] as keyof typeof unit] : 1);
}

describe("deploy/kubernetes", () => {
  it("holds only objects valid against the Kubernetes API schemas, each applied by kustomization.yaml", () => {
    expect(manifests.map((m) => m.object.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "NetworkPolicy",
      "PodDisruptionBudget",
      "Secret",
    ]);
    for (const { file, object } of manifests) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${file}: ${object.apiVersion} ${object.kind}`).toBeDefined();
      if (Model)
        expect(() => {
          new Model(object as never).validate();
        }, file).not.toThrow();
      expect(object.metadata.labels?.["app.kubernetes.io/name"]).toBe("elements-sync");
    }
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  it("rejects what the schemas forbid (the validation is real)", () => {
    const broken = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = "two";
    expect(() => {
      new Deployment(broken as never).validate();
    }).toThrow(/replicas/);
    const noContainers = structuredClone(deployment);
    delete (noContainers.spec.template.spec as { containers?: unknown }).containers;
    expect(() => {
      new Deployment(noContainers).validate();
    }).toThrow(/containers/);
  });

  it("runs two replicas of `elements-sync start` from this version's image, configured from the ConfigMap and the Secret", () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(deployment.spec.template.spec.containers).toHaveLength(1);
    const version = (JSON.parse(read(new URL("package.json", root))) as { version: string })
      .version;
    expect(container?.image).toBe(`elements-sync:${version}`);
    expect(kustomization.images).toEqual([
      { name: "elements-sync", newName: "elements-sync", newTag: version },
    ]);
    // The image's ENTRYPOINT runs the CLI; args replace its CMD.
    expect(read(new URL("Dockerfile", root))).toMatch(
      /^ENTRYPOINT \[.*"bin\/elements-sync\.js"\]$/m,
    );
    expect(container?.args).toEqual(["start"]);
    expect(container?.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
  });

  it("mounts the Secret as files, read through the _FILE variables, never as environment", () => {
    const pod = deployment.spec.template.spec;
    const volume = pod.volumes.find((v) => v.secret?.secretName === secret.metadata.name);
    expect(volume?.secret?.defaultMode).toBe(0o440);
    expect(pod.securityContext.fsGroup).toBe(1000);
    const mount = container?.volumeMounts.find((m) => m.name === volume?.name);
    expect(mount).toMatchObject({ readOnly: true });
    const env = new Map(container?.env.map((e) => [e.name, e]));
    expect(env.get("DATABASE_URL_FILE")?.value).toBe(`${mount?.mountPath}/DATABASE_URL`);
    expect(env.get("ELEMENTS_CLIENT_SECRET_FILE")?.value).toBe(
      `${mount?.mountPath}/ELEMENTS_CLIENT_SECRET`,
    );
    // Only the client id (not a secret, and without a _FILE form) comes from the Secret by name.
    expect(container?.env.filter((e) => e.valueFrom !== undefined).map((e) => e.name)).toEqual([
      "ELEMENTS_CLIENT_ID",
    ]);
    for (const name of ["DATABASE_URL", "ELEMENTS_CLIENT_SECRET", "NOTIFY_WEBHOOK_URL"]) {
      expect(env.has(name)).toBe(false);
    }
  });

  it("lets only the scraper reach the worker's port, and the worker reach DNS, PostgreSQL and HTTPS", () => {
    const policy = only("NetworkPolicy") as Manifest & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: { from: unknown[]; ports: { port: number }[] }[];
        egress: { to?: unknown[]; ports: { protocol: string; port: number }[] }[];
      };
    };
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(policy.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
    expect(policy.spec.ingress).toHaveLength(1);
    expect(policy.spec.ingress[0]?.ports).toEqual([
      { protocol: "TCP", port: Number(configMap.data?.HTTP_PORT) },
    ]);
    expect(policy.spec.ingress[0]?.from).toEqual([
      {
        namespaceSelector: {},
        podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
      },
    ]);
    const egressPorts = policy.spec.egress.flatMap((rule) =>
      rule.ports.map((p) => `${p.protocol}/${p.port}`),
    );
    expect(egressPorts.sort()).toEqual(["TCP/443", "TCP/53", "TCP/5432", "UDP/53"]);
  });

  it("sets only documented variables; credentials are in the Secret, the rest in the ConfigMap", () => {
    const documented = new Set(
      [...read(new URL(".env.example", root)).matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map(
        (match) => match[1],
      ),
    );
    const secretKeys = Object.keys(secret.stringData ?? {});
    const configKeys = Object.keys(configMap.data ?? {});
    for (const name of [...secretKeys, ...configKeys]) expect(documented).toContain(name);
    expect(secretKeys.sort()).toEqual([
      "DATABASE_URL",
      "ELEMENTS_CLIENT_ID",
      "ELEMENTS_CLIENT_SECRET",
    ]);
    for (const name of configKeys)
      expect(name).not.toMatch(/SECRET|PASSPHRASE|DATABASE_URL|WEBHOOK/);
    // Placeholders, never a working credential in the repository.
    for (const value of Object.values(secret.stringData ?? {}))
      expect(value).toContain("CHANGE_ME");
  });

  it("probes /healthz and announces /metrics for scraping at the port the worker serves them on", () => {
    const port = Number(configMap.data?.HTTP_PORT);
    expect(port).toBeGreaterThan(0);
    expect(container?.ports).toEqual([{ name: "http", containerPort: port }]);
    for (const probe of [
      container?.startupProbe,
      container?.readinessProbe,
      container?.livenessProbe,
    ]) {
      expect(probe?.httpGet).toEqual({ path: "/healthz", port: "http" });
    }
    // A database outage makes /healthz 503: restart only after minutes of it.
    const liveness = container?.livenessProbe;
    expect(
      (liveness?.periodSeconds ?? 0) * (liveness?.failureThreshold ?? 0),
    ).toBeGreaterThanOrEqual(300);
    expect(deployment.spec.template.metadata.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(port),
      "prometheus.io/path": "/metrics",
    });
    // The worker stops within 10 s of SIGTERM (docs/operating.md, "Shutdown").
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(10);
  });

  it("requests memory above the measured peak and limits it above the launcher's heap cap", () => {
    // The latest measurement, up to 1,000,000 customers (docs/performance.md).
    const bench = JSON.parse(read(new URL("bench/results/2026-12-05-large.json", root))) as {
      results: {
        customers: number;
        first: { peakRssMb: number };
        unchanged: { peakRssMb: number };
      }[];
    };
    expect(bench.results.map((result) => result.customers)).toContain(1_000_000);
    const peakMb = Math.max(
      ...bench.results.flatMap((result) => [result.first.peakRssMb, result.unchanged.peakRssMb]),
    );
    expect(peakMb).toBeGreaterThan(100);
    const request = bytes(container?.resources.requests.memory ?? "0");
    expect(request).toBeGreaterThanOrEqual(1.5 * peakMb * 2 ** 20);
    const shebang = read(new URL("bin/elements-sync.js", root)).split("\n")[0] ?? "";
    const oldSpaceMb = Number(/--max-old-space-size=(\d+)/.exec(shebang)?.[1]);
    expect(oldSpaceMb).toBeGreaterThan(0);
    const limit = bytes(container?.resources.limits.memory ?? "0");
    expect(limit).toBeGreaterThanOrEqual((oldSpaceMb + 256) * 2 ** 20);
    expect(container?.resources.requests.cpu).toBeDefined();
  });

  it("runs as the image's non-root user on a read-only root file system, without privileges", () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    // The Dockerfile's USER node is uid 1000 in the node images.
    expect(read(new URL("Dockerfile", root))).toMatch(/^USER node$/m);
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
  });
});
