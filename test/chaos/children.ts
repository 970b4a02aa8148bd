/**
 * Child processes of the fault suite, each in its own process group (as scripts/dev.ts runs them):
 * `npx tsx <script>` is npx → sh → tsx → node, and only a group signal reaches every one of them,
 * so `kill()` really is a `kill -9` of the worker or the API, not of its npx wrapper.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  /** The group leader's pid (npx); the group id is the same number. */
  pid: number;
  /** Resolves once the whole tree is gone (every process of it held the output pipes). */
  closed: Promise<ChildExit>;
  alive(): boolean;
  /** SIGKILL to the whole group, then waits for it to be gone. */
  kill(): Promise<ChildExit>;
  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<ChildExit>;
  /** The last lines the child wrote (stdout and stderr). */
  tail(lines?: number): string[];
}

export interface SpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Called with every output line (e.g. to echo it); the tail is kept regardless. */
  onLine?: (line: string) => void;
  /** Called when the tree exits without `kill()` or `stop()` having been asked for. */
  onUnexpectedExit?: (exit: ChildExit) => void;
}

const TAIL = 300;
const groups = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** If the harness process itself exits without tearing down, its children must not outlive it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of groups) signalGroup(pid, 'SIGKILL');
  });
}

export function spawnChild(name: string, script: string, options: SpawnOptions): Child {
  installExitHook();
  const child = spawn('npx', ['tsx', script], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not spawn npx`);
  groups.add(pid);
  const lines: string[] = [];
  const collect = (stream: Readable) =>
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line);
      if (lines.length > TAIL) lines.shift();
      options.onLine?.(line);
    });
  collect(child.stdout);
  collect(child.stderr);

  let expected = false;
  let done = false;
  const closed = new Promise<ChildExit>((resolve) => {
    child.once('error', (error) => {
      lines.push(`spawn error: ${error.message}`);
    });
    child.once('close', (code, signal) => {
      done = true;
      groups.delete(pid);
      // npx may be gone while tsx and node still run (they hold the pipes): make sure of it.
      signalGroup(pid, 'SIGKILL');
      if (!expected) options.onUnexpectedExit?.({ code, signal });
      resolve({ code, signal });
    });
  });

  return {
    name,
    pid,
    closed,
    alive: () => !done,
    async kill() {
      expected = true;
      signalGroup(pid, 'SIGKILL');
      return closed;
    },
    async stop(graceMs = 10_000) {
      expected = true;
      signalGroup(pid, 'SIGTERM');
      const force = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      const exit = await closed;
      clearTimeout(force);
      return exit;
    },
    tail: (n = 60) => lines.slice(-n),
  };
}
