import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { temporalCliPath } from './temporal-binaries.js';
import { SEARCH_ATTRIBUTES } from '../src/workflows/visibility.js';

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; in memory when omitted. */
  dbFile?: string;
  /** Extra namespaces to create at start ("default" always exists). */
  namespaces?: string[];
  /** Environment of the server process on top of this one's (e.g. GOGC, Go's garbage collector target). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  /** SIGTERM (a clean shutdown) unless told otherwise; SIGKILL after 10 s either way. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((done) => {
      const socket = createConnection({ port, host });
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The CLI's names for the search attribute types the workflows use. */
const CLI_TYPES: Record<(typeof SEARCH_ATTRIBUTES)[number]['type'], string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
};

/** Starts `temporal server start-dev` (the real Temporal server with SQLite) and waits until it accepts connections. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = temporalCliPath();
  if (!cli) throw new Error('Temporal CLI not found: run `make install` or set TEMPORAL_CLI_PATH');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--log-level',
    'warn',
    // Needed by older servers for update-with-start (the way orders are placed).
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
    // The dev server's single history shard reads its transfer queue at 20 polls/s by default,
    // which adds ~40 ms to every workflow task hop (see bench/README.md).
    '--dynamic-config-value',
    'history.transferProcessorMaxPollRPS=10000',
  ];
  // The workflows' custom search attributes, in every namespace (an order cannot start without them).
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${CLI_TYPES[key.type]}`);
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const namespace of options.namespaces ?? []) args.push('--namespace', namespace);
  const child = spawn(cli, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
  });
  const log = options.log ?? (() => undefined);
  child.stdout?.on('data', (chunk: Buffer) => log(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => log(chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await Promise.race([
    waitForPort(options.port),
    exited.then(() => {
      throw new Error(`temporal server exited early (code ${child.exitCode})`);
    }),
  ]);
  return {
    address: `127.0.0.1:${options.port}`,
    process: child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    },
  };
}
