// What the simulator sends back for one request, built before it is written, so that a
// fault can replace or corrupt it.

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
