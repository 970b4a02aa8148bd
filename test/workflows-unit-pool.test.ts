import { ApplicationFailure } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { poolWorkflow } from '../src/workflows/index.js';
import {
  addOrdersToPoolSignal,
  addToPoolSignal,
  poolQuery,
  poolWorkflowId,
  type OrderStatus,
  type PoolView,
} from '../src/workflows/definitions.js';
import type { OrderInput } from '../src/domain/orders.js';
import type { Activities } from '../src/activities/index.js';
import {
  THRESHOLD,
  createStubActivities,
  freshTaskQueue,
  placeOrder,
  startStubWorker,
  startTimeSkipping,
  type StubWorker,
  type Stubs,
  until,
} from './support/stub-activities.js';

// The pool workflow with real order workflows feeding it, against in-memory activities ($1 a coin,
// $10 threshold): no Postgres, no exchange.

let env: TestWorkflowEnvironment;
let worker: StubWorker;
let taskQueue: string;
/** A time-skipping server with a stub worker, made the current one for the tests that follow. */
async function useFreshServer(): Promise<() => Promise<void>> {
  const started = await startTimeSkipping();
  const queue = freshTaskQueue('unit-pool');
  const stubWorker = await startStubWorker(started.env, started.bundle, queue);
  [env, worker, taskQueue] = [started.env, stubWorker, queue];
  return async () => {
    await stubWorker.stop();
    await started.env.teardown();
  };
}
let stopServer: () => Promise<void> | undefined;
beforeAll(async () => (stopServer = await useFreshServer()));
afterAll(async () => stopServer?.());

let stubs: Stubs;
let crypto: string;
let cryptos = 0;
let nextId = 1;
/** Fresh stubs and a crypto (so a pool) of its own per test; `overrides` replace single activities. */
function setUp(overrides: Partial<Activities> = {}): Stubs {
  crypto = `P${++cryptos}`;
  stubs = createStubActivities({ client: env.client, taskQueue, maxWaitMs: 15 * 60_000, overrides });
  worker.use(stubs);
  return stubs;
}
// A pool left running would flush into a later test's stubs once that test lets time skip.
afterEach(async () => {
  await env.client.workflow
    .getHandle(poolWorkflowId(crypto))
    .terminate('test over')
    .catch(() => undefined);
});

const input = (amount: string): OrderInput => ({ orderId: nextId++, userId: 1, crypto, amount });
const pool = () => env.client.workflow.getHandle<typeof poolWorkflow>(poolWorkflowId(crypto));
/** The pool's view, or undefined while it cannot answer (not started yet, or between runs). */
const view = (): Promise<PoolView | undefined> =>
  env.client.withDeadline(Date.now() + 5_000, () => pool().query(poolQuery)).catch(() => undefined);
const batchIds = () => stubs.callsTo('openBatch').map(([batchId]) => batchId);
const pooledIds = async () => (await view())?.orders.map((o) => o.orderId) ?? [];

/** Activity tasks the pool's history holds (local activities leave markers instead). */
const activityTasks = async () =>
  (await pool().fetchHistory()).events?.filter((e) => e.activityTaskScheduledEventAttributes).length ?? 0;

/** Places an order and waits until the pool holds it (or has already bought it). */
async function pooled(amount: string) {
  const order = input(amount);
  const { handle } = await placeOrder(env.client, taskQueue, order);
  await until(
    async () =>
      (await pooledIds()).includes(order.orderId) ||
      stubs.callsTo('openBatch').some(([, , ids]) => ids.includes(order.orderId)),
  );
  return { order, handle };
}

/**
 * Awaits results one at a time: the time-skipping server counts each pending result() as an unlock,
 * and concurrent ones let it skip past workflow tasks still in flight.
 */
async function results(handles: { result(): Promise<OrderStatus> }[]): Promise<OrderStatus[]> {
  const out: OrderStatus[] = [];
  for (const h of handles) out.push(await h.result());
  return out;
}

it('buys once the pool reaches the threshold: one batch under its batch id, every order settled', async () => {
  setUp();
  const first = [await pooled('4'), await pooled('3')];
  expect((await view())?.total).toBe('7.00');
  expect(stubs.callsTo('openBatch')).toEqual([]);
  const orders = [...first, await pooled('3')];
  const ids = orders.map((o) => o.order.orderId);

  const settled = await results(orders.map((o) => o.handle));
  const [batchId] = batchIds();
  expect(batchId).toMatch(new RegExp(`^${crypto}-1-`));
  expect(settled).toEqual(ids.map((orderId) => ({ orderId, state: 'completed', batchId })));
  expect(stubs.callsTo('openBatch')).toEqual([[batchId, crypto, ids]]);
  expect(stubs.callsTo('buyBatch')).toEqual([
    [expect.objectContaining({ batchId, notional: THRESHOLD, houseTopUp: '0.00' }), crypto],
  ]);
  // A calm pool's batch runs as local activities, inside its workflow tasks.
  expect(await activityTasks()).toBe(0);
  expect(stubs.callsTo('completeBatch')).toEqual([
    [batchId, expect.objectContaining({ clientOrderId: batchId })],
  ]);
  expect(stubs.callsTo('buyOrder')).toEqual([]);
  expect(await view()).toMatchObject({ total: '0.00', orders: [], batches: 1, flush_at: null });
  // The orders hear how the batch ended from one activity, not from signals of the pool's own,
  // each of which would come back to it as an event and a workflow task.
  expect(stubs.callsTo('settleOrders')).toEqual([[ids, { state: 'completed', batchId }]]);
  const events = (await pool().fetchHistory()).events ?? [];
  expect(events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
});

it('ignores an order it already holds, and one it has already bought', async () => {
  setUp();
  const first = await pooled('4');
  const again = { orderId: first.order.orderId, total: '4.00', amount: '4' };
  // A retried enqueue and a repeated signal.
  await stubs.activities.enqueueInPool(crypto, again);
  await pool().signal(addToPoolSignal, again);
  expect(await view()).toMatchObject({ total: '4.00', orders: [expect.objectContaining(again)] });

  const second = await pooled('6');
  // Bought and settled: the pool is empty again.
  await until(async () => (await view())?.orders.length === 0);
  expect(stubs.callsTo('openBatch')).toEqual([
    [expect.any(String), crypto, [first.order.orderId, second.order.orderId]],
  ]);
  // A late duplicate after the batch: nothing is pooled again. (Before awaiting any result: once
  // the orders are done the idle pool has no timer, and the server may skip it to its run timeout.)
  await pool().signal(addToPoolSignal, again);
  expect(await view()).toMatchObject({ total: '0.00', orders: [], batches: 1 });
  expect((await results([first.handle, second.handle])).map((r) => r.state)).toEqual([
    'completed',
    'completed',
  ]);
});

it('takes a group of orders in one signal, each once, and the threshold that came with it', async () => {
  setUp();
  const first = await pooled('4');
  const group = [
    { orderId: first.order.orderId, total: '4.00', amount: '4' },
    { orderId: nextId++, total: '3.00', amount: '3' },
    { orderId: nextId++, total: '2.00', amount: '2' },
  ];
  // 4 + 3 + 2 = 9 would stay under a raised threshold of 12: held, not bought.
  await pool().signal(addOrdersToPoolSignal, { threshold: '12.00', orders: [...group, group[1]!] });
  await until(async () => (await view())?.orders.length === 3);
  expect(await view()).toMatchObject({ total: '9.00', threshold: '12.00', batches: 0 });
  expect(await pooledIds()).toEqual(group.map((o) => o.orderId));
  // The one-order signal of earlier senders still joins orders, and knows the group's.
  await pool().signal(addToPoolSignal, group[2]!);
  expect(await view()).toMatchObject({ total: '9.00', orders: group.map((o) => expect.objectContaining(o)) });
  expect(stubs.callsTo('openBatch')).toEqual([]);
});

it('flushes a pool after the max wait, the batch topped up to the threshold', async () => {
  setUp();
  const before = await env.currentTimeMs();
  const { order, handle } = await pooled('4');
  await env.sleep('14 minutes');
  expect(await view()).toMatchObject({ total: '4.00', batches: 0 });
  expect(stubs.callsTo('openBatch')).toEqual([]);

  // Awaiting the result lets the server skip the last minute to the flush.
  const result = await handle.result();
  expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(15 * 60_000);
  const [batchId] = batchIds();
  expect(result).toEqual({ orderId: order.orderId, state: 'completed', batchId });
  expect(stubs.callsTo('openBatch')).toEqual([[batchId, crypto, [order.orderId]]]);
  expect(stubs.callsTo('buyBatch')).toEqual([
    [
      expect.objectContaining({ batchId, ordersTotal: '4.00', houseTopUp: '6.00', notional: '10.00' }),
      crypto,
    ],
  ]);
});

it('follows a threshold raised while it runs: not bought at the old one, topped up to the new one', async () => {
  let threshold = '10.00';
  crypto = `P${++cryptos}`;
  stubs = createStubActivities({
    client: env.client,
    taskQueue,
    maxWaitMs: 15 * 60_000,
    threshold: () => threshold,
  });
  worker.use(stubs);
  const first = await pooled('4');
  expect(await view()).toMatchObject({ threshold: '10.00' });
  // The market minimum rises to 15.00: the next order brings it, and $12 is no longer enough.
  threshold = '15.00';
  const second = await pooled('8');
  expect(await view()).toMatchObject({ total: '12.00', threshold: '15.00', batches: 0 });
  expect(stubs.callsTo('openBatch')).toEqual([]);

  const settled = await results([first.handle, second.handle]);
  expect(settled.map((r) => r.state)).toEqual(['completed', 'completed']);
  expect(stubs.callsTo('buyBatch')).toEqual([
    [expect.objectContaining({ ordersTotal: '12.00', houseTopUp: '3.00', notional: '15.00' }), crypto],
  ]);
});

it('a fill the completion refuses for good fails the batch and refunds it, and the pool goes on', async () => {
  const refused = 'unexpected data: malformed fill: quantity "x" is malformed';
  setUp({
    completeBatch: async () => {
      throw ApplicationFailure.create({ type: 'UnexpectedData', message: refused, nonRetryable: true });
    },
  });
  const orders = [await pooled('6'), await pooled('4')];
  const settled = await results(orders.map((o) => o.handle));
  const [batchId] = batchIds();
  const reason = `not processed: ${refused}`;
  expect(settled).toEqual(
    orders.map((o) => ({ orderId: o.order.orderId, state: 'failed', batchId, reason })),
  );
  expect(stubs.callsTo('failBatch')).toEqual([[batchId, reason]]);
  // The pool still runs and buys the next orders.
  expect(await view()).toMatchObject({ total: '0.00', batches: 1 });
});

it('a batch the exchange rejects is failed, and every order hears why', async () => {
  const reason = 'exchange rejected the purchase: unknown_crypto: no such market';
  setUp({
    buyBatch: async () => {
      throw ApplicationFailure.create({ type: 'ExchangeRejected', message: reason, nonRetryable: true });
    },
  });
  const orders = [await pooled('6'), await pooled('4')];
  const settled = await results(orders.map((o) => o.handle));
  const [batchId] = batchIds();
  expect(settled).toEqual(
    orders.map((o) => ({ orderId: o.order.orderId, state: 'failed', batchId, reason })),
  );
  // failBatch refunds the batch's orders; the order workflows leave it to it.
  expect(stubs.callsTo('failBatch')).toEqual([[batchId, reason]]);
  expect(stubs.callsTo('completeBatch')).toEqual([]);
  expect(stubs.callsTo('refundOrder')).toEqual([]);
});

it('a batch bought but whose answer was lost is found under its batch id and completed', async () => {
  const s: Stubs = setUp({
    buyBatch: async (batch, c) => {
      await s.defaults.buyBatch(batch, c); // the exchange buys, the answer never arrives
      // Given up at once rather than after the hour of retries the order tests already skip through.
      throw ApplicationFailure.create({ message: 'socket hang up', nonRetryable: true });
    },
  });
  const orders = [await pooled('6'), await pooled('4')];
  const settled = await results(orders.map((o) => o.handle));
  const [batchId] = batchIds();
  expect(settled.map((r) => r.state)).toEqual(['completed', 'completed']);
  expect(stubs.callsTo('findFill')).toEqual([[batchId, crypto]]);
  expect(stubs.callsTo('completeBatch')).toEqual([
    [batchId, expect.objectContaining({ clientOrderId: batchId })],
  ]);
  expect(stubs.callsTo('failBatch')).toEqual([]);
});

it('keeps the orders a batch opened again did not take, and buys them in the next batch', async () => {
  // The batch was opened once already, with the first two orders, by a try of the pool's workflow
  // task that was then failed; the task runs again with the third order too.
  const s: Stubs = setUp({
    openBatch: async (batchId, c, ids) => {
      if (s.callsTo('openBatch').length === 1) await s.defaults.openBatch(batchId, c, ids.slice(0, 2));
      return s.defaults.openBatch(batchId, c, ids);
    },
  });
  const orders = [await pooled('4'), await pooled('3')];
  const ids = orders.map((o) => o.order.orderId);
  const third = await pooled('3');
  await until(async () => (await pooledIds()).includes(third.order.orderId));
  // $3 still waiting + $7 fill the next batch (no waiting for the max wait).
  const fourth = await pooled('7');
  const later = [third, fourth].map((o) => o.order.orderId);
  const settled = await results([...orders, third, fourth].map((o) => o.handle));
  const [first, second] = batchIds();
  expect(stubs.callsTo('openBatch')).toEqual([
    [first, crypto, [...ids, third.order.orderId]],
    [second, crypto, later],
  ]);
  expect(settled).toEqual([
    ...ids.map((orderId) => ({ orderId, state: 'completed', batchId: first })),
    ...later.map((orderId) => ({ orderId, state: 'completed', batchId: second })),
  ]);
});

it('buys a pool holding more than one batch may in batches of at most 500 orders, oldest first', async () => {
  setUp();
  // A pool that fell behind: 1,100 $1 orders already held (as carried across continue-as-new).
  const held = Array.from({ length: 1_100 }, (_, i) => ({
    orderId: 1_000_000 + i,
    total: '1.00',
    amount: '1',
    addedAt: Date.now(),
  }));
  await env.client.workflow.start(poolWorkflow, {
    args: [{ crypto, threshold: THRESHOLD, maxWaitMs: 15 * 60_000, pending: held }],
    workflowId: poolWorkflowId(crypto),
    taskQueue,
  });
  await until(async () => (await view())?.orders.length === 0, 30_000);
  const opened = stubs.callsTo('openBatch').map(([, , ids]) => ids);
  expect(opened.map((ids) => ids.length)).toEqual([500, 500, 100]);
  expect(opened.flat()).toEqual(held.map((o) => o.orderId));
  expect(await view()).toMatchObject({ total: '0.00', batches: 3 });
  // Batches of that size run as regular activities (open, buy, complete, settle: four tasks each).
  expect(await activityTasks()).toBe(12);
});

describe('continue-as-new', () => {
  // The test server does not continue-as-new atomically and stops skipping time after it
  // (temporalio/sdk-java#1537, #1539), so this test gets a server of its own.
  let stopOwn: () => Promise<void>;
  let outer: [TestWorkflowEnvironment, StubWorker, string];
  beforeAll(async () => {
    outer = [env, worker, taskQueue];
    stopOwn = await useFreshServer();
  });
  afterAll(async () => {
    await stopOwn?.();
    [env, worker, taskQueue] = outer;
  });

  it('continues-as-new carrying every pending order, then buys them in one batch', async () => {
    setUp();
    const started = await env.client.workflow.start(poolWorkflow, {
      args: [{ crypto, threshold: THRESHOLD, maxWaitMs: 15 * 60_000, historyLimit: 10 }],
      workflowId: poolWorkflowId(crypto),
      taskQueue,
    });
    const orders = [];
    for (let i = 0; i < 6; i++) orders.push(await pooled('1'));
    const carried = orders.map((o) => o.order.orderId);
    expect((await pool().describe()).runId).not.toBe(started.firstExecutionRunId);
    await until(async () => (await pooledIds()).length === carried.length);
    expect(await view()).toMatchObject({ total: '6.00', batches: 0 });
    expect(await pooledIds()).toEqual(carried);
    // An order from an earlier run is still known after it.
    await pool().signal(addToPoolSignal, { orderId: carried[0]!, total: '1.00', amount: '1' });
    await until(async () => (await view()) !== undefined);
    expect(await pooledIds()).toEqual(carried);

    for (let i = 0; i < 4; i++) orders.push(await pooled('1'));
    const ids = orders.map((o) => o.order.orderId);
    const settled = await results(orders.map((o) => o.handle));
    const [batchId] = batchIds();
    expect(settled).toEqual(ids.map((orderId) => ({ orderId, state: 'completed', batchId })));
    expect(stubs.callsTo('openBatch')).toEqual([[batchId, crypto, ids]]);
    await until(async () => (await view())?.batches === 1);
    expect(await view()).toMatchObject({ total: '0.00', orders: [] });
  });
});
