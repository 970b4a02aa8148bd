/**
 * The load generator runs in a child process of its own (bench/loadgen.ts), so that its timers are not
 * delayed by the API, worker and baseline servers that share the bench process's event loop. This
 * module is the parent's side: it starts the child and sends it one command at a time over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OpenLoopResult } from './stats.js';

export interface RequestSpec {
  method: string;
  /** Path and query; `{n}` is replaced by a number unique within the load generator. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface OpenLoopCommand {
  kind: 'open';
  /** Origin, e.g. http://127.0.0.1:1234 */
  origin: string;
  rate: number;
  seconds: number;
  /** Request i uses specs[i % specs.length]. */
  specs: RequestSpec[];
  timeoutMs: number;
  /** Keep the `id` of JSON responses (orders). */
  collectId?: boolean;
}

export interface SaturateCommand {
  kind: 'saturate';
  url: string;
  connections: number;
  seconds: number;
}

export interface SaturateResult {
  requestsPerSecond: number;
  total: number;
  latencyP50: number;
  latencyP99: number;
  errors: number;
  non2xx: number;
  connections: number;
}

export type LoadCommand = OpenLoopCommand | SaturateCommand;
export type LoadReply =
  | { id: number; ok: true; result: OpenLoopResult | SaturateResult }
  | { id: number; ok: false; error: string };

export class LoadGenerator {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: LoadReply) => {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`load generator: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.waiting.values())
        waiter.reject(new Error(`load generator exited (${signal ?? code})`));
      this.waiting.clear();
    });
  }

  /** Forks `node --import tsx bench/loadgen.ts` with the same Node binary. */
  static async start(): Promise<LoadGenerator> {
    const child = fork(fileURLToPath(new URL('./loadgen.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve()); // "ready"
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`load generator exited early (${code})`)));
    });
    return new LoadGenerator(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private send<T>(command: LoadCommand): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.child.send({ id, command });
    });
  }

  openLoop(command: Omit<OpenLoopCommand, 'kind'>): Promise<OpenLoopResult> {
    return this.send({ kind: 'open', ...command });
  }

  saturate(command: Omit<SaturateCommand, 'kind'>): Promise<SaturateResult> {
    return this.send({ kind: 'saturate', ...command });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.kill('SIGTERM');
    await exited;
  }
}
