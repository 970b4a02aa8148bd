/**
 * Keeps a child process running the way a process supervisor would: a child that exits without
 * being asked to is started again after a back-off that doubles with each crash in a row, and one
 * that keeps crashing (`maxCrashes` within `windowMs`) is given up on. Children run in their own
 * process group, so a stop reaches every process of a `npx tsx …` tree.
 */
import type { ChildProcess } from 'node:child_process';

export interface SuperviseOptions {
  name: string;
  /** Starts the child; called again for every restart. Spawn it `detached` (its own group). */
  start: () => ChildProcess;
  log: (line: string) => void;
  /** Called once when the child keeps crashing; it is not restarted any more. */
  onGiveUp: (reason: string) => void;
  /** This many crashes within `windowMs` and the child is given up on. */
  maxCrashes?: number;
  windowMs?: number;
  /** The first restart waits this long, each further crash in a row twice as long, up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that ran this long before crashing restarts after the initial back-off again. */
  stableAfterMs?: number;
}

export interface Supervised {
  /** How many times the child was started (1 + restarts). */
  readonly starts: number;
  /** The running child, if any. */
  current(): ChildProcess | undefined;
  /** Stops the child for good: SIGTERM to its group, SIGKILL after `graceMs`; no restart follows. */
  stop(graceMs?: number): Promise<void>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Signals a child's whole process group (or the child alone if it has none). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal); // not a group leader, or the group is already gone
  }
}

export function supervise(options: SuperviseOptions): Supervised {
  const {
    name,
    log,
    maxCrashes = 5,
    windowMs = 60_000,
    initialBackoffMs = 500,
    maxBackoffMs = 10_000,
    stableAfterMs = 30_000,
  } = options;
  let child: ChildProcess | undefined;
  let closed: Promise<void> = Promise.resolve();
  let starts = 0;
  let stopped = false;
  let gaveUp = false;
  let inARow = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const crashes: number[] = [];

  function launch(): void {
    const startedAt = Date.now();
    starts++;
    const current = options.start();
    child = current;
    // 'close' waits for the pipes too, which every process of the tree holds: the whole tree is gone.
    closed = new Promise<void>((done) => {
      let exited = false;
      const onExit = (how: string) => {
        if (exited) return;
        exited = true;
        if (child === current) child = undefined;
        done();
        if (!stopped) crashed(how, Date.now() - startedAt);
      };
      current.once('close', (code, signal) => onExit(signal ?? `code ${code}`));
      // A child that could not be started at all emits 'error' and may never 'close'.
      current.once(
        'error',
        (error) => current.pid === undefined && onExit(`could not start: ${error.message}`),
      );
    });
  }

  function crashed(how: string, ranMs: number): void {
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0]! <= now - windowMs) crashes.shift();
    inARow = ranMs >= stableAfterMs ? 1 : inARow + 1;
    if (crashes.length >= maxCrashes) {
      gaveUp = true;
      const reason = `${name} crashed ${crashes.length} times within ${seconds(windowMs)} (last: ${how})`;
      log(`${reason}: giving up`);
      options.onGiveUp(reason);
      return;
    }
    const delay = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (inARow - 1));
    log(
      `${name} exited unexpectedly (${how}) after ${seconds(ranMs)}: restarting in ${seconds(delay)} ` +
        `(${crashes.length} of ${maxCrashes} crashes allowed within ${seconds(windowMs)})`,
    );
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (!stopped) launch();
    }, delay);
  }

  launch();
  return {
    get starts() {
      return starts;
    },
    current: () => child,
    async stop(graceMs = 10_000) {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      const running = child;
      if (!running || gaveUp) return closed;
      signalGroup(running, 'SIGTERM');
      const force = setTimeout(() => signalGroup(running, 'SIGKILL'), graceMs);
      await closed;
      clearTimeout(force);
    },
  };
}
