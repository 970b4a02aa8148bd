import type { FastifyInstance } from 'fastify';
import { connectClient } from '../../src/temporal/connection.js';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { buildApp } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { fraudConfig, loadEnv, passwordHashCost, type Env } from '../../src/config/env.js';
import { setPasswordHashCost } from '../../src/services/accounts.js';
import { seed } from '../../src/services/seed.js';
import { createCcxtExchange } from '../../src/exchange/ccxt-exchange.js';
import { exchangeOptions, SIMULATOR } from '../../src/config/exchange.js';
import type { Exchange } from '../../src/exchange/exchange.js';
import { createWorker, type ServiceWorker } from '../../src/worker/worker.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/metrics/worker-metrics.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { quietRuntime, silentLogger, startSimulator, type Simulator } from './pipeline.js';
import { workflowCode } from './workflow-bundle.js';

/** The test environment follows the production rules: a strong admin password and signing key. */
export const ADMIN = { username: 'admin', password: 'Tested-Ledger-Quartz-71' };
const TEST_JWT_SECRET = 'test-signing-key-7f3a9c2e5b8d1f4a6c0e9b2d5f8a1c4e';
/** The simulator's keys, set explicitly: outside development nothing defaults to them. */
export const SIMULATOR_KEYS = { EXCHANGE_API_KEY: SIMULATOR.apiKey, EXCHANGE_SECRET: SIMULATOR.secret };
/** What newUser registers with; strong enough for the password policy. */
export const USER_PASSWORD = 'correct horse battery';

export interface TestApi {
  url: string;
  env: Env;
  db: TestDatabase;
  app: FastifyInstance;
  temporal: Client;
  sim?: Simulator;
  workerMetrics?: WorkerMetrics;
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** Real argon2id at OWASP's minimum cost: a quarter of the default's time, the same code paths. */
export const TEST_PASSWORD_HASH_COST = {
  PASSWORD_HASH_MEMORY_KIB: '19456',
  PASSWORD_HASH_TIME_COST: '2',
  PASSWORD_HASH_PARALLELISM: '1',
};

/** Hashes made in this process (seeds, registrations outside an app) use the test cost too. */
export function useTestPasswordHashCost(): void {
  setPasswordHashCost(passwordHashCost(testEnv()));
}

export function testEnv(overrides: Record<string, string> = {}): Env {
  return loadEnv({
    APP_ENV: 'test',
    LOG_LEVEL: 'silent',
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: `test-${process.env.JEST_WORKER_ID ?? '1'}`,
    TEMPORAL_TASK_QUEUE: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: TEST_JWT_SECRET,
    // A loaded test machine can take longer than the default to debit; tests of 202 set it lower.
    PLACEMENT_TIMEOUT: '30s',
    // A retry waits out the recvWindow before it may buy again; short, so tests of retries run fast.
    EXCHANGE_RECV_WINDOW: '1s',
    EXCHANGE_CLOCK_MARGIN: '100ms',
    ...TEST_PASSWORD_HASH_COST,
    ...overrides,
  });
}

export interface StartApiOptions {
  env?: Record<string, string>;
  /** Also run the exchange simulator and a worker against the run's Temporal dev server. */
  worker?: boolean;
  simulatorEnv?: Record<string, string>;
  /** Adds routes or hooks to the built app before it listens. */
  extend?: (app: FastifyInstance) => void | Promise<void>;
  /** Receives the API's log lines (set LOG_LEVEL too: tests default to silent). */
  logDestination?: ApiDeps['logDestination'];
}

/** The real API on a random port, over a fresh seeded database and the run's Temporal dev server. */
export async function startApi(options: StartApiOptions = {}): Promise<TestApi> {
  useTestPasswordHashCost();
  const db = await createTestDatabase();
  await seed(db.orm.em.fork(), { username: ADMIN.username, password: ADMIN.password });
  const sim = options.worker ? await startSimulator(options.simulatorEnv) : undefined;
  const env = testEnv({
    DATABASE_URL: db.url,
    ...(sim ? { EXCHANGE_URL: sim.url, ...SIMULATOR_KEYS } : {}),
    ...options.env,
  });
  const connection = await connectClient({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const workerMetrics = sim ? createWorkerMetrics() : undefined;
  let worker: ServiceWorker | undefined;
  let running: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  if (sim) {
    quietRuntime();
    nativeConnection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
    worker = await createWorker(
      {
        connection: nativeConnection,
        namespace: env.TEMPORAL_NAMESPACE,
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        orm: db.orm,
        temporal,
        exchange: createCcxtExchange({ ...exchangeOptions(env), logger: silentLogger }),
        aggregationThreshold: env.AGGREGATION_THRESHOLD,
        aggregationMaxWaitMs: env.AGGREGATION_MAX_WAIT,
        poolFeedLingerMs: env.POOL_FEED_LINGER,
        poolSettleWaitMs: env.POOL_SETTLE_WAIT,
        maxOrderTotal: env.MAX_AMOUNT,
        fraud: fraudConfig(env),
        reviewTimeoutMs: env.FRAUD_REVIEW_TIMEOUT,
        metrics: workerMetrics,
      },
      { workflowBundle: await workflowCode(), workflowsPath: undefined },
    );
    running = worker.run();
  }
  const app = await buildApp({ env, orm: db.orm, temporal, logDestination: options.logDestination });
  await options.extend?.(app);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${address}/api/v1`;
  return {
    url,
    env,
    db,
    app,
    temporal,
    sim,
    workerMetrics,
    async call(method, path, { token, body, headers = {} } = {}) {
      const target = path.startsWith('/') ? `${address}${path}` : `${url}/${path}`;
      const response = await fetch(target, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (docs pages)
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async close() {
      await app.close();
      // The worker stops first, so nothing starts a workflow (a pool) once the list below is taken.
      worker?.shutdown();
      await running;
      // Workflows left running (pools) would otherwise meet the next file that uses this namespace.
      for await (const wf of temporal.workflow.list({ query: 'ExecutionStatus="Running"' })) {
        await temporal.workflow
          .getHandle(wf.workflowId, wf.runId)
          .terminate('test finished')
          .catch(() => undefined);
      }
      for await (const schedule of temporal.schedule.list()) {
        await temporal.schedule.getHandle(schedule.scheduleId).delete();
      }
      await nativeConnection?.close();
      await connection.close();
      await sim?.app.close();
      await db.drop();
    },
  };
}

let counter = 0;
/** Registers a fresh user and returns its tokens. */
export async function newUser(
  api: TestApi,
  prefix = 'user',
): Promise<{ username: string; access: string; refresh: string }> {
  const username = `${prefix}${process.pid}x${++counter}`;
  const res = await api.call('POST', 'accounts/auth/register/', {
    body: { username, password: USER_PASSWORD },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { username, ...res.body };
}

/**
 * A worker for an API started without one, on its task queue, buying from `exchange`: for tests
 * that decide when orders may be debited (no worker polls until this runs).
 */
export async function runWorker(
  api: TestApi,
  exchange: Exchange,
): Promise<{ worker: ServiceWorker; stop(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: api.env.TEMPORAL_ADDRESS });
  const worker = await createWorker(
    {
      connection,
      namespace: api.env.TEMPORAL_NAMESPACE,
      taskQueue: api.env.TEMPORAL_TASK_QUEUE,
      orm: api.db.orm,
      temporal: api.temporal,
      exchange,
      aggregationThreshold: api.env.AGGREGATION_THRESHOLD,
      aggregationMaxWaitMs: api.env.AGGREGATION_MAX_WAIT,
      poolFeedLingerMs: api.env.POOL_FEED_LINGER,
      poolSettleWaitMs: api.env.POOL_SETTLE_WAIT,
      maxOrderTotal: api.env.MAX_AMOUNT,
      fraud: fraudConfig(api.env),
      reviewTimeoutMs: api.env.FRAUD_REVIEW_TIMEOUT,
    },
    { workflowBundle: await workflowCode(), workflowsPath: undefined },
  );
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** Registers a fresh user and deposits `amount` into its wallet. */
export async function fundedUser(api: TestApi, amount: string) {
  const user = await newUser(api);
  const res = await api.call('PATCH', 'accounts/wallet/deposit/', { token: user.access, body: { amount } });
  if (res.status !== 200) throw new Error(`deposit failed: ${res.status} ${JSON.stringify(res.body)}`);
  return user;
}

/** The wallet balance the API shows the token's user. */
export const balanceOf = async (api: TestApi, token: string): Promise<string> =>
  (await api.call('GET', 'accounts/wallet/', { token })).body.balance;

/** Starts APIs for one test file, each with its own settings, and closes them all after it. */
export function apisPerFile(): (env?: Record<string, string>) => Promise<TestApi> {
  const opened: TestApi[] = [];
  afterAll(async () => Promise.all(opened.map((api) => api.close())));
  return async (env = {}) => {
    const api = await startApi({ env });
    opened.push(api);
    return api;
  };
}

export async function login(api: TestApi, username: string, password: string): Promise<string> {
  const res = await api.call('POST', 'accounts/auth/login/', { body: { username, password } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return res.body.access;
}

/** Polls until `check` holds; throws after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
