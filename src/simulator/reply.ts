// What the simulator sends back for one request, built before it is written, so that a
// fault can replace or corrupt it, and how it is written.
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string>;
  note?: string | undefined;
  /** Destroy the connection instead of answering. */
  reset?: boolean;
  /** Send the headers at once, then the body one byte every trickleMs. */
  trickleMs?: number | undefined;
}

export const RESET: Reply = { status: 0, body: "", headers: {}, reset: true };

export function jsonReply(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): Reply {
  return {
    status,
    body: JSON.stringify(value),
    headers: { "content-type": "application/json", ...headers },
  };
}

/**
 * `answer`'s reply, `latencyMs` after the request arrived: the simulator's own work (paging,
 * serializing) included, as a real server's latency includes its work, so the benchmark's
 * floor (each request that latency) is what it serves.
 */
export async function afterLatency(
  latencyMs: number,
  closing: AbortSignal,
  answer: () => Promise<Reply>,
): Promise<Reply> {
  const due = performance.now() + latencyMs;
  const reply = await answer();
  const left = due - performance.now();
  if (left > 0) await sleep(left, undefined, { signal: closing });
  return reply;
}

/** Sends `reply`: its status, headers and body, or a reset connection, or a trickle. */
export function writeReply(
  request: IncomingMessage,
  response: ServerResponse,
  reply: Reply,
  closing: AbortSignal,
): void {
  if (response.destroyed) return;
  if (reply.reset) {
    request.socket.destroy();
    return;
  }
  response.writeHead(reply.status, {
    ...reply.headers,
    "content-length": String(Buffer.byteLength(reply.body)),
  });
  if (reply.trickleMs === undefined) response.end(reply.body);
  else trickle(response, Buffer.from(reply.body), reply.trickleMs, closing);
}

/**
 * Writes `body` one byte every `intervalMs` (headers already sent), as a stalled server
 * does; stops when the client hangs up or the simulator closes.
 */
function trickle(
  response: ServerResponse,
  body: Buffer,
  intervalMs: number,
  closing: AbortSignal,
): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= body.length) {
      stop();
      response.end();
      return;
    }
    response.write(body.subarray(sent, sent + 1));
    sent += 1;
  }, intervalMs);
  const stop = () => {
    clearInterval(timer);
    closing.removeEventListener("abort", stop);
  };
  response.once("close", stop);
  closing.addEventListener("abort", stop, { once: true });
}
