export interface Page<T> {
  results: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  next_cursor: string | null;
}
