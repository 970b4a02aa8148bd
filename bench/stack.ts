/**
 * Everything the bench measures, started in this process: a throwaway Postgres database (on the given,
 * the local or an embedded server), a fresh Temporal dev server (in-memory SQLite unless told
 * otherwise), migrations and seed, the exchange simulator, the service's worker and API, and a
 * baseline worker for bench/workflows.ts. `stop()` undoes all of it, dropping the database.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Client, type Connection } from '@temporalio/client';
import { connectClient } from '../src/temporal/connection.js';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  makeTelemetryFilterString,
  type WorkerOptions,
} from '@temporalio/worker';
import pg from 'pg';
import { buildApp } from '../src/api/app.js';
import { fraudConfig, loadEnv, type Env } from '../src/config/env.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../tools/embedded-postgres.js';
import { migrate, openOrm } from '../src/db/orm.js';
import getPort from 'get-port';
import { adminQuery, canConnect } from '../tools/postgres-admin.js';
import { loadSimulatorConfig } from '../src/exchange/simulator/config.js';
import { buildSimulator } from '../src/exchange/simulator/server.js';
import { createCcxtExchange } from '../src/exchange/ccxt-exchange.js';
import { exchangeOptions } from '../src/config/exchange.js';
import { seed } from '../src/services/seed.js';
import { temporalCliPath } from '../tools/temporal-binaries.js';
import { startDevServer, type DevServer } from '../tools/temporal-dev-server.js';
import { createWorker } from '../src/worker/worker.js';
import { openDatabase } from '../src/runtime/resources.js';

export const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/** How the bench and the probe start Temporal, from BENCH_TEMPORAL_FLAGS and BENCH_TEMPORAL_DB. */
export const temporalOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({
  temporalFlags: (env.BENCH_TEMPORAL_FLAGS ?? '').split(/\s+/).filter(Boolean),
  temporalDbFile: env.BENCH_TEMPORAL_DB === 'file',
  temporalGogc: temporalGogc(env.BENCH_TEMPORAL_GOGC),
});

/**
 * GOGC of the dev server: 400 unless BENCH_TEMPORAL_GOGC says otherwise ("default" for Go's own, 100).
 * At Go's default, Temporal's CPU per order climbed from 11 to 19 ms over 16 probe steps of 330
 * orders; at 400 it stayed at 10–13 ms, with a quarter of the collections (bench/README, "Go's
 * collector in the dev server").
 */
function temporalGogc(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return '400';
  if (raw === 'default') return undefined;
  if (/^([1-9]\d*|off)$/.test(raw)) return raw;
  throw new Error(`BENCH_TEMPORAL_GOGC must be a positive integer, "off" or "default", not "${raw}"`);
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Settings of the service under test that the bench forces, and why (printed with the results). */
export const FORCED_ENV = {
  RATE_LIMIT_ENABLED: 'false', // per-user and per-IP limits would refuse a load test's traffic
  FRAUD_ENABLED: 'false', // velocity and burst rules would hold a funded user's repeated orders
  LOG_LEVEL: 'warn', // one info line per request would flood the terminal
  APP_ENV: 'development',
} as const;

export interface StackOptions {
  stamp: string;
  /** JSON WorkerOptions for the service's worker (BENCH_WORKER_OPTIONS). */
  workerOptions: Partial<WorkerOptions>;
  /** JSON WorkerOptions for the baseline worker (BENCH_BASELINE_WORKER_OPTIONS). */
  baselineWorkerOptions: Partial<WorkerOptions>;
  /** Extra `temporal server start-dev` arguments (BENCH_TEMPORAL_FLAGS). */
  temporalFlags: string[];
  /** Keep Temporal's SQLite in a temp file instead of in memory (BENCH_TEMPORAL_DB=file). */
  temporalDbFile: boolean;
  /** GOGC of the Temporal server; Go's default when undefined (BENCH_TEMPORAL_GOGC). */
  temporalGogc: string | undefined;
  log: (line: string) => void;
}

/** The service's worker or a bare SDK worker. */
type Runnable = Pick<Worker, 'run' | 'shutdown' | 'getState'>;

export interface RunningWorker {
  worker: Runnable;
  stop(): Promise<void>;
}

export interface Stack {
  env: Env;
  postgres: {
    source: 'BENCH_DATABASE_URL' | 'DATABASE_URL' | 'local' | 'embedded';
    url: string;
    local: boolean;
  };
  database: string;
  databaseUrl: string;
  temporal: { address: string; pid: number; argv: string[]; version: string; storage: string; gogc: string };
  /** The service's API, listening on a random loopback port. */
  api: { app: FastifyInstance; origin: string };
  /** A Temporal client of its own for the baselines (like the API's). */
  baselineClient: Client;
  baselineTaskQueue: string;
  /** The bench's own connections to the database (never the service's pools). */
  pool: pg.Pool;
  apiOrm: MikroORM;
  workerOrm: MikroORM;
  appWorker: RunningWorker;
  baselineWorker: RunningWorker;
  simulatorOrigin: string;
  /** Warnings the Temporal SDK logged, by message, with counts. */
  sdkWarnings: Map<string, number>;
  stop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

const isLoopback = (url: string) =>
  ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(new URL(url).hostname);

function startWorker(worker: Runnable): RunningWorker {
  const running = worker.run();
  running.catch(() => undefined); // reported by stop()
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

/** Starts the whole stack; on failure, stops whatever it had started and rethrows. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const cleanups: { name: string; stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const { name, stop } of cleanups.splice(0).reverse()) {
      const begin = performance.now();
      await stop().catch((error: unknown) => options.log(`stopping ${name} failed: ${String(error)}`));
      const took = performance.now() - begin;
      if (took > 2_000) options.log(`stopping ${name} took ${(took / 1000).toFixed(1)} s`);
    }
  };
  try {
    return await build(options, cleanups, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function build(
  options: StackOptions,
  cleanups: { name: string; stop: () => Promise<void> }[],
  stopAll: () => Promise<void>,
): Promise<Stack> {
  const { log, stamp } = options;
  const scratch = await mkdtemp(join(tmpdir(), 'crypto-bench-'));
  await chmod(scratch, 0o755); // an embedded Postgres run as root drops to a system user that must get in
  cleanups.push({ name: 'scratch dir', stop: () => rm(scratch, { recursive: true, force: true }) });

  // Postgres: BENCH_DATABASE_URL, DATABASE_URL, the local server, else an embedded one.
  let postgres: Stack['postgres'];
  const given = process.env.BENCH_DATABASE_URL
    ? ('BENCH_DATABASE_URL' as const)
    : process.env.DATABASE_URL
      ? ('DATABASE_URL' as const)
      : undefined;
  if (given) {
    const url = process.env[given]!;
    postgres = { source: given, url, local: isLoopback(url) };
  } else if (process.env.BENCH_EMBEDDED_POSTGRES !== '1' && (await canConnect(LOCAL_POSTGRES))) {
    postgres = { source: 'local', url: LOCAL_POSTGRES, local: true };
  } else {
    log('starting an embedded Postgres (none at 127.0.0.1:5432, or BENCH_EMBEDDED_POSTGRES=1)');
    const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
    const embedded: EmbeddedPostgres = await startEmbeddedPostgres(
      join(scratch, 'postgres'),
      await getPort(),
    );
    // embedded-postgres exits the process on SIGINT; run.ts stops everything in order instead.
    for (const s of SIGNALS)
      for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
    cleanups.push({ name: 'embedded postgres', stop: () => embedded.stop() });
    postgres = { source: 'embedded', url: embedded.url, local: true };
  }
  const database = `bench_${stamp.replace(/\D/g, '').slice(0, 14)}_${process.pid}`;
  await adminQuery(postgres.url, `create database "${database}"`);
  cleanups.push({
    name: 'bench database',
    stop: () => adminQuery(postgres.url, `drop database if exists "${database}" with (force)`),
  });
  const databaseUrl = withDatabase(postgres.url, database);
  log(`postgres (${postgres.source}): database ${database}`);

  // Temporal dev server, optionally with extra flags through a wrapper around the CLI.
  const cli = temporalCliPath();
  if (!cli) throw new Error('Temporal CLI not found: run `make install` or set TEMPORAL_CLI_PATH');
  const previousCli = process.env.TEMPORAL_CLI_PATH;
  if (options.temporalFlags.length) {
    const wrapper = join(scratch, 'temporal');
    const quoted = options.temporalFlags.map((f) => `'${f.replaceAll("'", "'\\''")}'`).join(' ');
    await writeFile(wrapper, `#!/bin/sh\nexec '${cli}' "$@" ${quoted}\n`);
    await chmod(wrapper, 0o755);
    process.env.TEMPORAL_CLI_PATH = wrapper;
  }
  const temporalLog: string[] = [];
  let server: DevServer;
  try {
    server = await startDevServer({
      port: await getPort(),
      ...(options.temporalDbFile ? { dbFile: join(scratch, 'temporal.sqlite') } : {}),
      ...(options.temporalGogc ? { env: { GOGC: options.temporalGogc } } : {}),
      log: (chunk) => temporalLog.push(chunk),
    });
  } finally {
    if (previousCli === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = previousCli;
  }
  cleanups.push({
    name: 'temporal',
    stop: () => server.stop(options.temporalDbFile ? 'SIGTERM' : 'SIGKILL'),
  });
  const argv = (await readFile(`/proc/${server.process.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  const version = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
  const gogc = options.temporalGogc ?? 'default (100)';
  log(`temporal ${server.address} (pid ${server.process.pid}, GOGC ${gogc}): ${argv.slice(1).join(' ')}`);

  const env = loadEnv({
    ...process.env,
    ...FORCED_ENV,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: `bench-app-${stamp}`,
  });

  // Migrations and seed, in-process.
  const setupOrm = await openOrm({ databaseUrl, poolSize: 2 });
  try {
    await migrate(setupOrm);
    await seed(setupOrm.em.fork(), { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD });
  } finally {
    await setupOrm.close();
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  cleanups.push({ name: 'bench pool', stop: () => pool.end() });

  // Exchange simulator on a random port.
  const simulator = buildSimulator(loadSimulatorConfig({ LOG_LEVEL: 'warn' }));
  const simulatorOrigin = await simulator.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push({ name: 'exchange simulator', stop: () => simulator.close() });

  // The service: worker and API each with a database pool of their own, as in their own processes.
  // SDK and core warnings are counted, not printed (terminating a bench workflow mid-task warns, say).
  const warnings = new Map<string, number>();
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry) => {
        if (entry.level === 'ERROR') process.stderr.write(`[temporal sdk] ${entry.message}\n`);
        else warnings.set(entry.message, (warnings.get(entry.message) ?? 0) + 1);
      }),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
      shutdownSignals: [],
    });
  } catch {
    // already installed by whoever imported this module (a diagnostic script, say): keep theirs
  }
  const workerOrm = await openDatabase(env);
  cleanups.push({ name: 'worker orm', stop: () => workerOrm.close() });
  const apiOrm = await openDatabase(env);
  cleanups.push({ name: 'api orm', stop: () => apiOrm.close() });

  const clients: Connection[] = [];
  const client = async () => {
    const connection = await connectClient({ address: server.address });
    clients.push(connection);
    return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  };
  cleanups.push({
    name: 'temporal clients',
    stop: async () => void (await Promise.all(clients.map((c) => c.close()))),
  });
  const workerClient = await client();
  const apiClient = await client();
  const baselineClient = await client();

  const native = await NativeConnection.connect({ address: server.address });
  cleanups.push({ name: 'worker connection', stop: () => native.close() });
  const baselineTaskQueue = `bench-baseline-${stamp}`;
  const [appWorker, baselineWorker] = await Promise.all([
    createWorker(
      {
        connection: native,
        namespace: env.TEMPORAL_NAMESPACE,
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        orm: workerOrm,
        temporal: workerClient,
        exchange: createCcxtExchange(exchangeOptions({ ...env, EXCHANGE_URL: simulatorOrigin })),
        aggregationThreshold: env.AGGREGATION_THRESHOLD,
        aggregationMaxWaitMs: env.AGGREGATION_MAX_WAIT,
        poolFeedLingerMs: env.POOL_FEED_LINGER,
        poolSettleWaitMs: env.POOL_SETTLE_WAIT,
        maxOrderTotal: env.MAX_AMOUNT,
        fraud: fraudConfig(env),
        reviewTimeoutMs: env.FRAUD_REVIEW_TIMEOUT,
      },
      options.workerOptions,
    ),
    Worker.create({
      connection: native,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: baselineTaskQueue,
      workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
      activities: { noop: async () => undefined },
      ...options.baselineWorkerOptions,
    }),
  ]);
  const runningApp = startWorker(appWorker);
  const runningBaseline = startWorker(baselineWorker);
  cleanups.push({ name: 'service worker', stop: () => runningApp.stop() });
  cleanups.push({ name: 'baseline worker', stop: () => runningBaseline.stop() });

  const app = await buildApp({ env, orm: apiOrm, temporal: apiClient });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push({ name: 'api', stop: () => app.close() });

  return {
    env,
    postgres,
    database,
    databaseUrl,
    temporal: {
      address: server.address,
      pid: server.process.pid!,
      argv,
      version,
      storage: options.temporalDbFile ? 'SQLite file' : 'SQLite in memory',
      gogc,
    },
    api: { app, origin },
    baselineClient,
    baselineTaskQueue,
    pool,
    apiOrm,
    workerOrm,
    appWorker: runningApp,
    baselineWorker: runningBaseline,
    simulatorOrigin,
    sdkWarnings: warnings,
    stop: stopAll,
  };
}
