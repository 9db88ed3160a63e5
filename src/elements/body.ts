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
 * Pages the run's pipeline may hold, in bytes of response body at the cap: one per request
 * slot, and one more (the batch merging and the pages queued behind it share them); the
 * workers hold the others (pagesHeld). Pipeline and start-up check both read the bound
 * from here (queuedBytesBudget, pagesHeld).
 */
export function pagesQueued(concurrency: number): number {
  return concurrency + 1;
}

/**
 * Bytes of response body the pipeline may hold (records added and not yet merged) before
 * fetching waits: pagesQueued pages at the cap, whatever their number of customers.
 */
export function queuedBytesBudget(maxResponseBytes: number, concurrency: number): number {
  return maxResponseBytes * pagesQueued(concurrency);
}

/**
 * Workers per request allowed in flight: a run's passes keep every request slot busy while
 * a worker checks or queues the page it got (src/sync/pool.ts, requestPool).
 */
export const WORKERS_PER_REQUEST = 2;

/**
 * Pages a run may hold at once: one per worker (being fetched, checked, or waiting to enter
 * the pipeline) and those the pipeline holds.
 */
export function pagesHeld(concurrency: number): number {
  return WORKERS_PER_REQUEST * concurrency + pagesQueued(concurrency);
}

/** Heap that pages at the cap could take, all in flight at once. */
export function heapNeeded(maxResponseBytes: number, concurrency: number): number {
  return maxResponseBytes * pagesHeld(concurrency) * HEAP_BYTES_PER_BODY_BYTE;
}

/** Pages may have two thirds of the heap; the rest is the run's own (ids, merge, driver). */
export function heapForPages(heapLimit = getHeapStatistics().heap_size_limit): number {
  return Math.floor((heapLimit * 2) / 3);
}

const MIB = 1024 * 1024;

/** Why a response cap and a concurrency could make a run outgrow the heap, or undefined. */
export function heapProblem(
  maxResponseBytes: number,
  concurrency: number,
  room = heapForPages(),
): string | undefined {
  const needed = heapNeeded(maxResponseBytes, concurrency);
  if (needed <= room) return undefined;
  const mib = (bytes: number) => `${Math.ceil(bytes / MIB)} MiB`;
  return (
    `ELEMENTS_MAX_RESPONSE_BYTES (${maxResponseBytes} bytes) × ${pagesHeld(concurrency)} pages a run may hold at once ` +
    `(ELEMENTS_CONCURRENCY ${concurrency}) could take ${mib(needed)} of heap once parsed, more than the ` +
    `${mib(room)} this process allows them (two thirds of its heap). Lower ELEMENTS_MAX_RESPONSE_BYTES ` +
    `or ELEMENTS_CONCURRENCY, or give Node a larger heap (--max-old-space-size).`
  );
}

/** How much of an error body is read for a message (only its start is shown). */
export const ERROR_BODY_BYTES = 64 * 1024;

/**
 * The body as text, with its size in bytes, refusing one larger than `maxBytes` without
 * reading the rest. Not retried: the same request would get the same answer. `server`
 * names who sent it.
 */
export async function readCapped(
  response: Response,
  maxBytes: number,
  server: string,
  signal?: AbortSignal,
): Promise<{ text: string; bytes: number }> {
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
  const { text, whole, bytes } = await readUpTo(response, maxBytes, signal);
  if (!whole) throw tooLarge(`over ${maxBytes} bytes`);
  return { text, bytes };
}

/**
 * At most `maxBytes` of the body, and how many bytes that is; `whole` is false when there
 * was more, left unread.
 * Aborting `signal` cancels the read at once, even while no byte arrives, and throws its
 * reason.
 */
export async function readUpTo(
  response: Response,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ text: string; whole: boolean; bytes: number }> {
  if (response.body === null) return { text: "", whole: true, bytes: 0 };
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
      if (chunk.done) return { text: text + decoder.decode(), whole: true, bytes: size };
      const room = maxBytes - size;
      size += chunk.value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        text += decoder.decode(chunk.value.subarray(0, room));
        return { text, whole: false, bytes: maxBytes };
      }
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}

// Node 24's raw JSON, which TypeScript's ES2024 lib lacks.
declare global {
  interface JSON {
    rawJSON(text: string): object;
    isRawJSON(value: unknown): boolean;
  }
}

/**
 * JSON.parse for response bodies. A whole body that is not JSON (a proxy's error page, JSON
 * cut short by the server) is retried like a reset: such a page is usually gone a minute
 * later. A body that is JSON in the wrong shape is the caller's to refuse, at once.
 * With `exactNumbers`, an integer beyond 2^53 keeps its exact text as raw JSON (which
 * JSON.stringify writes back verbatim and jsonb stores exactly), except under the keys
 * named: fields whose schemas check them as numbers.
 */
export function parseJsonBody(
  text: string,
  who: string,
  status?: number,
  exactNumbers?: { except: ReadonlySet<string> },
): unknown {
  try {
    // Only a run of 16 digits can be an integer a double does not hold exactly.
    if (exactNumbers === undefined || !/\d{16}/.test(text)) return JSON.parse(text);
    return parseExactly(text, exactNumbers.except);
  } catch {
    throw new ElementsApiError(`${who} answered with a body that is not JSON.`, {
      kind: "retry",
      ...(status !== undefined ? { status } : {}),
    });
  }
}

/**
 * Strings, or integer literals of 16 digits or more (not part of a fraction or exponent):
 * the latter are what a double may not hold exactly.
 */
const STRING_OR_LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?[1-9]\d{15,}(?![\d.eE])/g;

/** Marks a long integer's text as a string through JSON.parse; NUL keeps it from real text. */
const MARK = "\u0000integer:";

/**
 * JSON.parse keeping long integers' text: each is parsed as a marked string and then turned
 * into raw JSON (or back into a number when it is safe, or under a key in `except`). Not a
 * reviver: that recurses, and a deep record would overflow the stack (the sync rejects it).
 */
function parseExactly(text: string, except: ReadonlySet<string>): unknown {
  const replaced = text.replace(STRING_OR_LONG_INTEGER, (token) =>
    token.startsWith('"') ? token : `"\\u0000integer:${token}"`,
  );
  if (replaced === text) return JSON.parse(text);
  const root: { value: unknown } = { value: JSON.parse(replaced) };
  const pending: unknown[] = [root];
  for (let holder = pending.pop(); holder !== undefined; holder = pending.pop()) {
    const entries = Object.entries(holder as Record<string, unknown>);
    for (const [key, value] of entries) {
      if (typeof value === "object" && value !== null) pending.push(value);
      else if (typeof value === "string" && value.startsWith(MARK)) {
        const literal = value.slice(MARK.length);
        const number = Number(literal);
        (holder as Record<string, unknown>)[key] =
          Number.isSafeInteger(number) || except.has(key) ? number : JSON.rawJSON(literal);
      }
    }
  }
  return root.value;
}
