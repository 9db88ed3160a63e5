// The paging plan: which pages a run must fetch to see every customer.

/** Pages needed for `totalCount` records at `pageSize` per page (1-based indexes 1..n). */
export function pageCount(totalCount: number, pageSize: number): number {
  if (totalCount <= 0) return 1;
  return Math.ceil(totalCount / pageSize);
}

/**
 * The page size the server actually used. The documented sample answers a request with
 * metadata.pageSize 50, so a server may cap the size we asked for; planning pages with
 * the requested size would then skip records. Later pages are asked for with this size
 * too, so the offset means the same to both sides.
 */
export function effectivePageSize(requested: number, reported: number | null | undefined): number {
  return reported == null ? requested : Math.min(requested, reported);
}
