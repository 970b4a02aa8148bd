import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { workflowCode } from './workflow-bundle.js';
import type { Activities } from '../../src/activities/index.js';
import type { OpenedBatch } from '../../src/services/batches.js';
import type { Fill } from '../../src/exchange/exchange.js';
import {
  addOrdersToPoolSignal,
  orderSettledSignal,
  orderWorkflowId,
  placedUpdate,
  poolWorkflowId,
  type PooledOrder,
} from '../../src/workflows/definitions.js';
import { orderClientId, type OrderInput, type OrderView, type Settlement } from '../../src/domain/orders.js';
import { DomainError, type ErrorCode } from '../../src/domain/errors.js';
import { toFailure } from '../../src/temporal/failures.js';
import { formatUsd, readQuantity, readUsd, sum, totalPrice } from '../../src/domain/money.js';
import { temporalTestServerPath } from '../../tools/temporal-binaries.js';
import { orderWorkflow } from '../../src/workflows/index.js';
import { registerSearchAttributes } from './search-attributes.js';
import { afterDebit } from '../../src/activities/after-debit.js';

/*
 * In-memory stand-ins for every activity, so the workflows run in the time-skipping test server
 * without Postgres or the exchange. Each stub behaves like the service it replaces in the way the
 * workflows can see (routing by the threshold, idempotent batches, fills under the client order id)
 * and records every call, in order, for the tests to assert on.
 */

/** USD string: orders below it are pooled, and a batch is bought for at least this much. */
export const THRESHOLD = '10.00';
/** Every stubbed crypto costs $1.00, so an order's amount is its total. */
const PRICE = '1.00';

export type Call = {
  [K in keyof Activities]: { name: K; args: Parameters<Activities[K]> };
}[keyof Activities];

export interface StubOptions {
  /** For `enqueueInPool`, which signals-with-start the pool just like the real activity. */
  client: Client;
  taskQueue: string;
  maxWaitMs?: number;
  /** How long a held order waits for review (`debitOrder` answers with it). */
  reviewTimeoutMs?: number;
  /** Replaces single activities, e.g. to refuse a debit or fail a buy. */
  overrides?: Partial<Activities>;
  /** The threshold now (a market minimum can raise it while a pool runs); THRESHOLD by default. */
  threshold?: () => string;
  /**
   * What the debit's activity sees while it watches a pooled order (the service's
   * awaitSettlement); by default nothing, and the order waits for the pool's signal.
   */
  awaitSettlement?: (orderId: number) => Promise<Settlement | undefined>;
}

export interface Stubs {
  /** What the worker runs: every activity, recorded, with the overrides applied. */
  activities: Activities;
  /** The stubs' own behaviour, unrecorded, for an override to build on. */
  defaults: Activities;
  calls: Call[];
  /** The arguments of each call to one activity, in order. */
  callsTo<K extends keyof Activities>(name: K): Parameters<Activities[K]>[];
}

/** A non-retryable refusal as the activities raise it (see src/activities/errors.ts). */
export const refusal = (code: ErrorCode, message: string) => toFailure(new DomainError(code, message));

export function createStubActivities(options: StubOptions): Stubs {
  const thresholdNow = () => readUsd(options.threshold?.() ?? THRESHOLD);
  const orders = new Map<number, OrderView>();
  const batches = new Map<string, OpenedBatch>();
  const batchOf = new Map<number, string>();
  const fills = new Map<string, Fill>();
  let exchangeOrders = 0;

  const view = (id: number, patch: Partial<OrderView>): OrderView => {
    const order = { ...orders.get(id)!, ...patch };
    orders.set(id, order);
    return order;
  };
  const route = (order: OrderView) => (readUsd(order.total_price) >= thresholdNow() ? 'exchange' : 'pool');
  const fill = (clientOrderId: string, crypto: string, notional: string): Fill => {
    const existing = fills.get(clientOrderId);
    if (existing) return existing;
    const bought: Fill = {
      exchangeOrderId: `ex-${++exchangeOrders}`,
      clientOrderId,
      crypto,
      symbol: `${crypto}/USDT`,
      quoteSpent: notional,
      quantity: notional,
      averagePrice: PRICE,
      commission: '0',
      commissionAsset: crypto,
    };
    fills.set(clientOrderId, bought);
    return bought;
  };

  const behaviour: Activities = {
    async debitOrder(input) {
      const total = formatUsd(totalPrice(readQuantity(input.amount), readUsd(PRICE)));
      const now = new Date(0).toISOString();
      const order: OrderView = {
        id: input.orderId,
        crypto: input.crypto,
        amount: input.amount,
        price: PRICE,
        total_price: total,
        state: readUsd(total) >= thresholdNow() ? 'pending' : 'aggregated',
        batch_id: null,
        failure_reason: null,
        created_at: now,
        updated_at: now,
      };
      orders.set(order.id, order);
      return { order, route: route(order), reviewTimeoutMs: options.reviewTimeoutMs ?? 24 * 3_600_000 };
    },
    async approveHeldOrder(orderId) {
      const order = orders.get(orderId)!;
      const next = route(order);
      return { order: view(orderId, { state: next === 'exchange' ? 'pending' : 'aggregated' }), route: next };
    },
    async rejectHeldOrder(orderId, _adminId, reason) {
      return view(orderId, { state: 'failed', failure_reason: reason });
    },
    async buyOrder(order) {
      return fill(orderClientId(order.id), order.crypto, order.total_price);
    },
    async findFill(clientOrderId) {
      return fills.get(clientOrderId);
    },
    async completeOrder(orderId) {
      view(orderId, { state: 'completed' });
    },
    async refundOrder(orderId, reason) {
      view(orderId, { state: 'failed', failure_reason: reason });
    },
    async cancelOrder(orderId, canceller) {
      // Like the service: a settled or batched order is refused; a retry finds it cancelled. (A held
      // order is held only in the view an override returned: the stubs' own record may say pending.)
      const order = orders.get(orderId);
      if (order?.state === 'cancelled') return order;
      if (!order || ['completed', 'failed'].includes(order.state) || batchOf.has(orderId))
        throw refusal('order_not_cancellable', `the order cannot be cancelled: it is ${order?.state}`);
      const reason = canceller.by === 'admin' ? 'cancelled by an admin' : 'cancelled by its owner';
      return view(orderId, { state: 'cancelled', failure_reason: reason });
    },
    async enqueueInPool(crypto: string, order: PooledOrder) {
      const threshold = formatUsd(thresholdNow());
      await options.client.workflow.signalWithStart('poolWorkflow', {
        workflowId: poolWorkflowId(crypto),
        taskQueue: options.taskQueue,
        args: [{ crypto, threshold, maxWaitMs: options.maxWaitMs ?? 15 * 60_000 }],
        signal: addOrdersToPoolSignal,
        signalArgs: [
          { threshold, orders: [{ orderId: order.orderId, total: order.total, amount: order.amount }] },
        ],
      });
      return undefined;
    },
    async openBatch(batchId, _crypto, orderIds) {
      // Like the service: a retried open returns the same batch; orders already batched are left out.
      const opened = batches.get(batchId);
      if (opened) {
        const waiting = orderIds.filter((id) => !batchOf.has(id));
        return { ...opened, waiting };
      }
      const ids = orderIds.filter((id) => !batchOf.has(id));
      const ordersTotal = sum(ids.map((id) => readUsd(orders.get(id)?.total_price ?? '0.00')));
      const minimum = thresholdNow();
      const houseTopUp = ids.length > 0 && ordersTotal < minimum ? minimum - ordersTotal : 0n;
      const batch = {
        batchId,
        orderIds: ids,
        ordersTotal: formatUsd(ordersTotal),
        houseTopUp: formatUsd(houseTopUp),
        notional: formatUsd(ordersTotal + houseTopUp),
      };
      batches.set(batchId, batch);
      for (const id of ids) batchOf.set(id, batchId);
      return batch;
    },
    async buyBatch(batch, crypto) {
      return fill(batch.batchId, crypto, batch.notional);
    },
    // Like the service: every order of the batch waits for the pool's signal (none was watched).
    async completeBatch(batchId) {
      return { signal: batches.get(batchId)?.orderIds ?? [] };
    },
    async failBatch(batchId) {
      return { signal: batches.get(batchId)?.orderIds ?? [] };
    },
    async settleOrders(orderIds, settlement) {
      // Like the service: each order workflow of the batch hears how it ended.
      await Promise.all(
        orderIds.map((id) =>
          options.client.workflow
            .getHandle(orderWorkflowId(id))
            .signal(orderSettledSignal, settlement)
            .catch(() => undefined),
        ),
      );
    },
    async refreshPrices() {
      return 0;
    },
  };

  const calls: Call[] = [];
  const activities = Object.fromEntries(
    Object.entries({ ...behaviour, ...options.overrides }).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls.push({ name, args } as Call);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as Activities;
  // The debit goes on as the service's activity does, through the stubs (recorded, overrides applied).
  const debit = activities.debitOrder;
  activities.debitOrder = async (input) => {
    const placed = await debit(input);
    const steps = {
      buyOrder: activities.buyOrder,
      completeOrder: activities.completeOrder,
      joinPool: async (crypto: string, order: PooledOrder) =>
        void (await activities.enqueueInPool(crypto, order)),
      awaitSettlement: options.awaitSettlement ?? (async () => undefined),
    };
    const after = placed.after ?? (await afterDebit(placed, steps, () => undefined));
    return { ...placed, ...(after && { after }) };
  };
  return {
    activities,
    defaults: behaviour,
    calls,
    callsTo: (name) =>
      calls.filter((c) => c.name === name).map((c) => c.args) as Parameters<Activities[typeof name]>[],
  };
}

let runtimeInstalled = false;

/** The time-skipping test server (the binary `make install` puts in .tools/bin) and one workflow bundle. */
export async function startTimeSkipping(): Promise<{
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleOption;
}> {
  if (!runtimeInstalled) {
    // Refused and failing activities are the point of these tests; keep the worker quiet about them.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
    runtimeInstalled = true;
  }
  const path = temporalTestServerPath();
  // Starting the server takes seconds, and so does bundling the workflows when no run's bundle exists.
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping(
      path ? { server: { executable: { type: 'existing-path', path } } } : {},
    ),
    workflowCode(),
  ]);
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return { env, bundle };
}

let queues = 0;
/** A task queue of its own for each test file. */
export const freshTaskQueue = (name: string) => `${name}-${++queues}-${process.pid}`;

export interface StubWorker {
  /** Points every activity at these stubs: each test brings its own. */
  use(stubs: Stubs): void;
  stop(): Promise<void>;
}

/**
 * One worker for a whole test file (creating one takes about half a second), polling `taskQueue`
 * with activities that call whichever stubs the current test installed with `use`.
 */
export async function startStubWorker(
  env: TestWorkflowEnvironment,
  bundle: WorkflowBundleOption,
  taskQueue: string,
): Promise<StubWorker> {
  let current: Stubs | undefined;
  const names = Object.keys(createStubActivities({ client: env.client, taskQueue }).activities);
  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      (...args: unknown[]) => {
        if (!current) throw new Error(`no stubs installed for ${name}`);
        return (current.activities[name as keyof Activities] as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: bundle,
    activities,
  });
  const running = worker.run();
  // A worker that fails surfaces in stop(); meanwhile the tests waiting on it time out.
  running.catch(() => undefined);
  return {
    use: (stubs) => void (current = stubs),
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

/** Polls `check` until it holds (for state a workflow reaches on its own, seen through a query). */
export async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const startOrder = (client: Client, taskQueue: string, input: OrderInput) =>
  client.workflow.start(orderWorkflow, {
    args: [input],
    workflowId: orderWorkflowId(input.orderId),
    taskQueue,
  });

/** Starts the order and waits for the placement update, as the API does. */
export async function placeOrder(
  client: Client,
  taskQueue: string,
  input: OrderInput,
): Promise<{ handle: WorkflowHandle<typeof orderWorkflow>; view: OrderView }> {
  const startWorkflowOperation = new WithStartWorkflowOperation(orderWorkflow, {
    args: [input],
    workflowId: orderWorkflowId(input.orderId),
    taskQueue,
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const view = await client.workflow.executeUpdateWithStart(placedUpdate, { startWorkflowOperation });
  return { handle: await startWorkflowOperation.workflowHandle(), view };
}

export interface StubServer {
  /** The time-skipping server (set once the file's tests start). */
  readonly env: TestWorkflowEnvironment;
  readonly taskQueue: string;
  /** Fresh stubs for one test, installed on the worker; `overrides` replace single activities. */
  useStubs(overrides?: Partial<Activities>, options?: Pick<StubOptions, 'awaitSettlement'>): Stubs;
}

/** A time-skipping server and a stub worker on a fresh task queue for one test file, stopped after it. */
export function stubServerPerFile(name: string): StubServer {
  const taskQueue = freshTaskQueue(name);
  let env: TestWorkflowEnvironment | undefined;
  let worker: StubWorker | undefined;
  beforeAll(async () => {
    const started = await startTimeSkipping();
    env = started.env;
    worker = await startStubWorker(env, started.bundle, taskQueue);
  });
  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
  });
  return {
    get env() {
      return env!;
    },
    taskQueue,
    useStubs(overrides = {}, options = {}) {
      const stubs = createStubActivities({ client: env!.client, taskQueue, overrides, ...options });
      worker!.use(stubs);
      return stubs;
    },
  };
}
