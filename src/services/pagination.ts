export interface Page<T> {
  results: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  next_cursor: string | null;
}

/** Cuts `limit + 1` rows fetched newest first into a page and the cursor of the next one. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  view: (row: R) => T,
  cursorOf: (item: T) => number,
): Page<T> {
  const results = rows.slice(0, limit).map(view);
  return { results, next_cursor: rows.length > limit ? String(cursorOf(results.at(-1)!)) : null };
}
