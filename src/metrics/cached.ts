/**
 * Wraps an expensive read so that callers within `ttlMs` of a successful read share its result,
 * and concurrent callers share one read in flight. A failed read is not kept.
 */
export function cachedFor<T>(ttlMs: number, read: () => Promise<T>): () => Promise<T> {
  let current: { value: Promise<T>; readAt: number } | undefined;
  return () => {
    const now = Date.now();
    if (current && (current.readAt === Infinity || now - current.readAt < ttlMs)) return current.value;
    const entry: { value: Promise<T>; readAt: number } = { value: read(), readAt: Infinity };
    current = entry;
    entry.value.then(
      () => {
        entry.readAt = Date.now();
      },
      () => {
        if (current === entry) current = undefined;
      },
    );
    return entry.value;
  };
}
