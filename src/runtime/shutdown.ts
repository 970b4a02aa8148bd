import closeWithGrace from 'close-with-grace';

export interface ShutdownLog {
  info(message: string): void;
  error(message: unknown): void;
}

/**
 * Runs `close` once on SIGINT/SIGTERM (or an uncaught error), then exits; a second signal, or a
 * close that takes longer than `graceMs`, exits at once with status 1.
 */
export function onShutdown(
  close: () => Promise<void>,
  log: ShutdownLog,
  graceMs: number | false = 10_000,
): void {
  closeWithGrace({ delay: graceMs, logger: log }, async ({ signal, err }) => {
    if (err) log.error(err);
    else if (signal) log.info(`${signal} received, shutting down`);
    await close();
  });
}
