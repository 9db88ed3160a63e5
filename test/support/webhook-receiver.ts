// A local stand-in for a Slack or Teams incoming webhook: a node:http server that records
// every POST and answers as the test scripts it, or never answers at all.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

export interface WebhookReceiver {
  /** The webhook URL, with a secret-looking path as Slack and Teams give. */
  url: string;
  /** Every POST whose body arrived, in order. */
  posts: ReceivedPost[];
  /** Requests whose headers arrived (a hanging receiver sees these, never answered). */
  requests: number;
  /** Resolves when `count` requests have arrived. */
  requestsReached(count: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * `answers` are the HTTP statuses of the first answers in turn (then 200);
 * `"hang"` reads each request and never answers it.
 */
export async function startWebhookReceiver(
  answers: readonly number[] | "hang" = [],
): Promise<WebhookReceiver> {
  const posts: ReceivedPost[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  let requests = 0;
  const pending = new Set<ServerResponse>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests += 1;
    for (const waiter of waiting.filter((w) => requests >= w.count)) waiter.resolve();
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      posts.push({
        path: request.url ?? "",
        contentType: request.headers["content-type"],
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown,
      });
      if (answers === "hang") {
        pending.add(response);
        return;
      }
      response.statusCode = answers[posts.length - 1] ?? 200;
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T0SECRET/B0SECRET/xoxSecretToken123`,
    posts,
    get requests() {
      return requests;
    },
    requestsReached: (count) =>
      new Promise<void>((resolve) => {
        if (requests >= count) resolve();
        else waiting.push({ count, resolve });
      }),
    async close() {
      for (const response of pending) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
