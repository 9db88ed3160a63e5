// Reading response bodies with a size cap (a broken or hostile server that streams without
// end must not exhaust the worker's memory), and parsing them as JSON.
import { ElementsApiError } from "./errors.ts";

/** 50 MiB (ELEMENTS_MAX_RESPONSE_BYTES): a page of 100 customers is tens of kilobytes. */
export const DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024;

/** How much of an error body is read for a message (only its start is shown). */
export const ERROR_BODY_BYTES = 64 * 1024;

/**
 * The body as text, refusing one larger than `maxBytes` without reading the rest. Not
 * retried: the same request would get the same answer. `server` names who sent it.
 */
export async function readCapped(
  response: Response,
  maxBytes: number,
  server: string,
  signal?: AbortSignal,
): Promise<string> {
  const tooLarge = (size: string) =>
    new ElementsApiError(
      `${server} sent a response body of ${size}, more than ELEMENTS_MAX_RESPONSE_BYTES (${maxBytes} bytes) allows.`,
      { kind: "fatal", status: response.status },
    );
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge(`${declared} bytes`);
  }
  const { text, whole } = await readUpTo(response, maxBytes, signal);
  if (!whole) throw tooLarge(`over ${maxBytes} bytes`);
  return text;
}

/**
 * At most `maxBytes` of the body; `whole` is false when there was more, left unread.
 * Aborting `signal` cancels the read at once, even while no byte arrives, and throws its
 * reason.
 */
export async function readUpTo(
  response: Response,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ text: string; whole: boolean }> {
  if (response.body === null) return { text: "", whole: true };
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  // Cancelling ends a pending read() (done); the loop then throws the abort's reason.
  const cancel = () => {
    reader.cancel(signal?.reason).catch(() => undefined);
  };
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    signal?.throwIfAborted();
    const decoder = new TextDecoder();
    let text = "";
    let size = 0;
    for (;;) {
      const chunk = await reader.read();
      signal?.throwIfAborted();
      if (chunk.done) return { text: text + decoder.decode(), whole: true };
      const room = maxBytes - size;
      size += chunk.value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        return { text: text + decoder.decode(chunk.value.subarray(0, room)), whole: false };
      }
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}

/** JSON.parse for response bodies: a body that is not JSON is a fatal error naming `who`. */
export function parseJsonBody(text: string, who: string, status?: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ElementsApiError(`${who} answered with a body that is not JSON.`, {
      kind: "fatal",
      ...(status !== undefined ? { status } : {}),
    });
  }
}
