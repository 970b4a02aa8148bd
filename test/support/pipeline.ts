import type { FastifyInstance } from 'fastify';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { buildSimulator } from '../../src/exchange/simulator/server.js';
import { loadSimulatorConfig } from '../../src/exchange/simulator/config.js';
import type { ExecutedOrder } from '../../src/exchange/simulator/state.js';
import {
  createCcxtExchange,
  type CcxtExchange,
  type DriverLogger,
} from '../../src/exchange/ccxt-exchange.js';
import { exchangeOptions } from '../../src/config/exchange.js';
import type { Exchange } from '../../src/exchange/exchange.js';
import { temporalTestServerPath } from '../../tools/temporal-binaries.js';
import { createWorker } from '../../src/worker/worker.js';
import { workflowCode } from './workflow-bundle.js';
import { registerSearchAttributes } from './search-attributes.js';
import { orderWorkflow } from '../../src/workflows/index.js';
import { orderWorkflowId } from '../../src/workflows/definitions.js';
import { orderStartOptions } from '../../src/workflows/visibility.js';
import type { OrderInput } from '../../src/domain/orders.js';
import { register } from '../../src/services/accounts.js';
import { deposit } from '../../src/services/wallet.js';
import { seed } from '../../src/services/seed.js';
import { parseUsd } from '../../src/domain/money.js';
import { fraudConfig } from '../../src/config/env.js';
import type { FraudConfig } from '../../src/domain/fraud.js';
import { ADMIN, SIMULATOR_KEYS, testEnv, useTestPasswordHashCost } from './api.js';
import { createTestDatabase, type TestDatabase } from './db.js';

let runtimeInstalled = false;
/** Worker logs only errors during tests (refused activities are expected here). */
export function quietRuntime(): void {
  // A file that installed a runtime of its own (e.g. with the SDK's metrics exporter) keeps it.
  if (runtimeInstalled || Runtime._instance) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  runtimeInstalled = true;
}

export interface Simulator {
  url: string;
  app: FastifyInstance;
  setFaults(faults: { failure_rate?: number; drop_rate?: number; latency_ms?: number }): Promise<void>;
  /** Every order the simulator executed (`GET /admin/orders`): the witness of what was bought. */
  fills(): Promise<ExecutedOrder[]>;
}

/** The exchange simulator on a random loopback port. */
export async function startSimulator(env: Record<string, string> = {}): Promise<Simulator> {
  const app = buildSimulator(loadSimulatorConfig({ LOG_LEVEL: 'silent', ...env }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    app,
    async setFaults(faults) {
      const res = await fetch(`${url}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (!res.ok) throw new Error(`faults: ${res.status}`);
    },
    async fills() {
      return (await fetch(`${url}/admin/orders`)).json() as Promise<ExecutedOrder[]>;
    },
  };
}

/** Drops the driver's log lines: the tests assert on what it returns and throws. */
export const silentLogger: DriverLogger = { error: () => undefined, warn: () => undefined };

/**
 * The ccxt driver configured from the environment as the worker configures it, pointed at a
 * simulator with the simulator's keys (test settings keep the recvWindow short).
 */
export function simulatorExchange(url: string, env: Record<string, string> = {}): CcxtExchange {
  const settings = exchangeOptions(testEnv({ EXCHANGE_URL: url, ...SIMULATOR_KEYS, ...env }));
  return createCcxtExchange({ ...settings, logger: silentLogger });
}

export interface PipelineOptions {
  maxWaitMs?: number;
  /** Wraps the exchange driver, e.g. to fail a number of calls first. */
  wrapExchange?: (exchange: Exchange) => Exchange;
  simulatorEnv?: Record<string, string>;
  fraud?: FraudConfig;
  reviewTimeoutMs?: number;
  /** POOL_FEED_LINGER and POOL_SETTLE_WAIT of the worker (default 0: no linger, every order signalled). */
  poolFeedLingerMs?: number;
  poolSettleWaitMs?: number;
}

export interface Pipeline {
  env: TestWorkflowEnvironment;
  client: Client;
  /** Runs `fn` with a fresh worker polling the pipeline's task queue (`worker.runUntil`). */
  withWorker<T>(fn: Promise<T> | (() => Promise<T>)): Promise<T>;
  db: TestDatabase;
  sim: Simulator;
  taskQueue: string;
  close(): Promise<void>;
}

/** Time-skipping Temporal, a worker with the real activities, a fresh Postgres database and the simulator. */
export async function startPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  quietRuntime();
  useTestPasswordHashCost();
  const db = await createTestDatabase();
  await seed(db.orm.em.fork(), ADMIN);
  const sim = await startSimulator(options.simulatorEnv);
  const path = temporalTestServerPath();
  const env = await TestWorkflowEnvironment.createTimeSkipping(
    path ? { server: { executable: { type: 'existing-path', path } } } : {},
  );
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  const taskQueue = `pipeline-${Math.random().toString(36).slice(2, 8)}`;
  // A short recvWindow: a retried buy waits it out before it may place the order again.
  const driver = simulatorExchange(sim.url, { EXCHANGE_RECV_WINDOW: '1s', EXCHANGE_CLOCK_MARGIN: '250ms' });
  const workflowBundle = await workflowCode();
  const exchange = options.wrapExchange ? options.wrapExchange(driver) : driver;
  const withWorker = async <T>(fn: Promise<T> | (() => Promise<T>)): Promise<T> => {
    const worker = await createWorker(
      {
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        orm: db.orm,
        temporal: env.client,
        exchange,
        aggregationThreshold: 1000n,
        aggregationMaxWaitMs: options.maxWaitMs ?? 15 * 60_000,
        poolFeedLingerMs: options.poolFeedLingerMs,
        poolSettleWaitMs: options.poolSettleWaitMs,
        maxOrderTotal: 100_000_000n,
        fraud: options.fraud ?? fraudConfig(testEnv()),
        reviewTimeoutMs: options.reviewTimeoutMs ?? 24 * 3_600_000,
      },
      { workflowBundle, workflowsPath: undefined },
    );
    return worker.runUntil(fn);
  };
  return {
    env,
    client: env.client,
    withWorker,
    db,
    sim,
    taskQueue,
    async close() {
      await env.teardown();
      await sim.app.close();
      await db.drop();
    },
  };
}

let users = 0;
/** A user with the given USD balance; returns the user id. */
export async function fundedUser(db: TestDatabase, balance: string): Promise<number> {
  const account = await register(db.orm.em.fork(), `buyer${++users}x${process.pid}`, 'irrelevant-password');
  const parsed = parseUsd(balance);
  if (parsed.ok) await deposit(db.orm.em.fork(), account.id, parsed.value);
  return account.id;
}

/** An order workflow's input under a fresh order id, as the API reserves it. */
export async function orderInput(
  p: Pipeline,
  userId: number,
  crypto: string,
  amount: string,
): Promise<OrderInput> {
  return { orderId: await nextOrderId(p.db), userId, crypto, amount };
}

/** Starts an order's workflow under its business id on the pipeline's task queue, as the API does. */
export const startOrder = (p: Pipeline, input: OrderInput) =>
  p.client.workflow.start(orderWorkflow, {
    args: [input],
    workflowId: orderWorkflowId(input.orderId),
    taskQueue: p.taskQueue,
    ...orderStartOptions(input),
  });

export async function nextOrderId(db: TestDatabase): Promise<number> {
  const [row] = await db.orm.em.fork().execute<{ id: string }[]>("select nextval('orders_id_seq') as id");
  return Number(row!.id);
}

export async function balance(db: TestDatabase, userId: number): Promise<string> {
  const [row] = await db.orm.em
    .fork()
    .execute<{ balance: string }[]>('select balance from wallets where user_id = ?', [userId]);
  return row!.balance;
}

export async function addCrypto(db: TestDatabase, name: string, price: string): Promise<void> {
  await db.orm.em.fork().execute('insert into crypto_currencies (name, price) values (?, ?)', [name, price]);
}
