// Reading response bodies with a size cap (a broken or hostile server that streams without
// end must not exhaust the worker's memory), and parsing them as JSON.
import { ElementsApiError } from "./errors.ts";

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
  const { text, whole } = await readUpTo(response, maxBytes);
  if (!whole) throw tooLarge(`over ${maxBytes} bytes`);
  return text;
}

/** At most `maxBytes` of the body; `whole` is false when there was more, left unread. */
export async function readUpTo(
  response: Response,
  maxBytes: number,
): Promise<{ text: string; whole: boolean }> {
  if (response.body === null) return { text: "", whole: true };
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    const room = maxBytes - size;
    size += chunk.byteLength;
    if (size > maxBytes) {
      text += decoder.decode(chunk.subarray(0, room));
      // Returning cancels the stream; body.cancel() here would only throw (the loop holds
      // the stream's lock).
      return { text, whole: false };
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return { text: text + decoder.decode(), whole: true };
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
