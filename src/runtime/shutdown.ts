/**
 * Runs `close` once on SIGINT/SIGTERM, then exits; a second signal, or a close that takes
 * longer than `graceMs`, exits at once.
 */
export function onShutdown(close: () => Promise<void>, log: (msg: string) => void, graceMs = 10_000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    log(`${signal} received, shutting down`);
    const timer = setTimeout(() => process.exit(1), graceMs);
    timer.unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
