// A TCP proxy between the worker and PostgreSQL, for tests of what the network can do to a
// run: cut every open connection, stall them (a half-open connection or a partition: nothing
// is forwarded and nothing is closed, until resumed) and refuse new ones.
import { createServer, connect, type Socket } from "node:net";

export interface TcpProxy {
  /** `url` with its host and port replaced by the proxy's. */
  route: (url: string) => string;
  /** Connections open through the proxy now. */
  openConnections(): number;
  /** Closes every open connection, on both sides, at once. */
  cut(): void;
  /**
   * Stops forwarding on every open connection, in both directions, closing nothing: what one
   * side sends or closes reaches the other only after resume(). New connections are not stalled.
   */
  stall(): void;
  /** Delivers what the stall held back and forwards as before. */
  resume(): void;
  /** While refusing, a new connection is reset as soon as it arrives. */
  refuse(refusing: boolean): void;
  /** Cuts every connection and stops listening. */
  close(): Promise<void>;
}

/** One proxied connection: the worker's socket and ours to the target. */
class Link {
  readonly #sides: [Socket, Socket];
  #stalled = false;
  /** Closes that arrived during a stall, delivered on resume. */
  #heldCloses: (() => void)[] = [];
  readonly #onClosed: () => void;

  constructor(client: Socket, server: Socket, onClosed: () => void) {
    this.#sides = [client, server];
    this.#onClosed = onClosed;
    this.#forward(client, server);
    this.#forward(server, client);
  }

  #forward(from: Socket, to: Socket): void {
    from.on("data", (chunk: Buffer) => {
      // Backpressure: a slow reader pauses its writer until it drains.
      if (!to.write(chunk)) {
        from.pause();
        to.once("drain", () => {
          if (!this.#stalled) from.resume();
        });
      }
    });
    // Errors end the link like a close does; without a listener they would crash the tests.
    from.on("error", () => undefined);
    from.on("close", () => {
      const close = () => {
        to.destroy();
        this.#onClosed();
      };
      if (this.#stalled) this.#heldCloses.push(close);
      else close();
    });
  }

  stall(): void {
    this.#stalled = true;
    // A paused socket emits no data: what arrives stays in its buffers until resume.
    for (const side of this.#sides) side.pause();
  }

  resume(): void {
    this.#stalled = false;
    for (const side of this.#sides) side.resume();
    const closes = this.#heldCloses;
    this.#heldCloses = [];
    for (const close of closes) close();
  }

  cut(): void {
    for (const side of this.#sides) side.destroy();
  }
}

/** Starts a proxy on 127.0.0.1 to the host and port of `targetUrl` (any URL naming them). */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || "5432");
  const targetHost = target.hostname;
  const links = new Set<Link>();
  let refusing = false;

  const server = createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const link = new Link(client, upstream, () => links.delete(link));
    links.add(link);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  const { port } = address;

  return {
    route: (url) => {
      const routed = new URL(url);
      routed.hostname = "127.0.0.1";
      routed.port = String(port);
      return routed.toString();
    },
    openConnections: () => links.size,
    cut() {
      for (const link of links) link.cut();
    },
    stall() {
      for (const link of links) link.stall();
    },
    resume() {
      for (const link of links) link.resume();
    },
    refuse(on) {
      refusing = on;
    },
    async close() {
      refusing = true;
      for (const link of links) {
        link.resume();
        link.cut();
      }
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
