// Reading response bodies with a size cap (a broken or hostile server that streams without
// end must not exhaust the worker's memory), and parsing them as JSON.
import { getHeapStatistics } from "node:v8";
import { ElementsApiError } from "./errors.ts";

/**
 * 2 MiB (ELEMENTS_MAX_RESPONSE_BYTES): a page of 100 customers is tens of kilobytes, and the
 * cap is what bounds memory (heapNeeded below), so it is a few pages' worth, not more.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 2 * 1024 * 1024;

/**
 * Heap one byte of JSON may take once parsed, text included. Measured on Node 24: customer
 * records 1.4, numbers 5, empty arrays 14, empty objects 22 (a hostile page's worst case).
 */
export const HEAP_BYTES_PER_BODY_BYTE = 24;

/**
 * Pages a run may hold at once: one being fetched per worker plus two per worker waiting for
 * staging (PageStaging in sync/fetch.ts), and page 1.
 */
export function pagesHeld(concurrency: number): number {
  return 3 * concurrency + 1;
}

/** Heap that pages at the cap could take, all in flight at once. */
export function heapNeeded(maxResponseBytes: number, concurrency: number): number {
  return maxResponseBytes * pagesHeld(concurrency) * HEAP_BYTES_PER_BODY_BYTE;
}

/** Pages may have two thirds of the heap; the rest is the run's own (ids, merge, driver). */
export function heapForPages(heapLimit = getHeapStatistics().heap_size_limit): number {
  return Math.floor((heapLimit * 2) / 3);
}

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
