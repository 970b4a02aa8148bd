import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import {
  orderSettledSignal,
  orderStatusQuery,
  placedUpdate,
  reviewOrderUpdate,
} from '../src/workflows/definitions.js';
import type { OrderInput, OrderView } from '../src/domain/orders.js';
import { fromFailure } from '../src/temporal/failures.js';
import type { Activities } from '../src/activities/index.js';
import {
  placeOrder,
  startOrder,
  refusal,
  type Stubs,
  until,
  stubServerPerFile,
} from './support/stub-activities.js';

// The order workflow alone, against in-memory activities: no Postgres, no exchange.

const server = stubServerPerFile('unit-order');
const { taskQueue } = server;

let stubs: Stubs;
let nextId = 1;
/** Fresh stubs per test; `overrides` replace single activities. */
function setUp(
  overrides: Partial<Activities> = {},
  options: Parameters<typeof server.useStubs>[1] = {},
): Stubs {
  stubs = server.useStubs(overrides, options);
  return stubs;
}
const input = (amount: string, crypto = 'ABAN'): OrderInput => ({
  orderId: nextId++,
  userId: 1,
  crypto,
  amount,
});
const start = (order: OrderInput) => startOrder(server.env.client, taskQueue, order);
const place = (order: OrderInput) => placeOrder(server.env.client, taskQueue, order);
const names = () => stubs.calls.map((c) => c.name);
const held = (order: OrderView) => ({
  order: { ...order, state: 'held' as const },
  route: 'review' as const,
});

it('the placement update answers with the debited order; one at the threshold is bought alone', async () => {
  setUp();
  const order = input('10');
  const { handle, view } = await place(order);
  const result = await handle.result();
  expect(view).toMatchObject({ id: order.orderId, total_price: '10.00', state: 'pending' });
  expect(result).toEqual({ orderId: order.orderId, state: 'completed' });
  expect(names()).toEqual(['debitOrder', 'buyOrder', 'completeOrder']);
  expect(stubs.callsTo('buyOrder')).toEqual([[expect.objectContaining({ id: order.orderId })]]);
  expect(stubs.callsTo('completeOrder')).toEqual([
    [
      order.orderId,
      expect.objectContaining({ exchangeOrderId: 'ex-1', clientOrderId: `order-${order.orderId}` }),
    ],
  ]);
});

it('a refused debit reaches the update caller with its code, and nothing else runs', async () => {
  setUp({
    debitOrder: async () => {
      throw refusal('insufficient_funds', 'the wallet balance is too low');
    },
  });
  const order = input('10');
  const handle = await start(order);
  const error = await handle.executeUpdate(placedUpdate).catch((e: unknown) => e);
  const result = await handle.result();
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause).toMatchObject({ type: 'insufficient_funds', message: 'the wallet balance is too low' });
  // The failure carries the domain error (code and kind), never an HTTP status.
  expect((cause as ApplicationFailure).details).toEqual([
    { code: 'insufficient_funds', kind: 'refused', message: 'the wallet balance is too low' },
  ]);
  expect(fromFailure(error)).toMatchObject({ code: 'insufficient_funds', kind: 'refused' });
  expect(result).toEqual({
    orderId: order.orderId,
    state: 'rejected',
    reason: 'the wallet balance is too low',
  });
  expect(names()).toEqual(['debitOrder']);
});

it('an order the fraud rules reject is refused to the update caller as order_rejected', async () => {
  setUp({
    debitOrder: async (o) => ({
      order: {} as OrderView,
      route: 'rejected',
      rule: 'velocity',
      reason: `too many orders (${o.orderId})`,
      reviewTimeoutMs: 0,
    }),
  });
  const order = input('10');
  const handle = await start(order);
  const error = await handle.executeUpdate(placedUpdate).catch((e: unknown) => e);
  const result = await handle.result();
  const reason = `too many orders (${order.orderId})`;
  expect((error as WorkflowUpdateFailedError).cause).toMatchObject({
    type: 'order_rejected',
    message: reason,
    details: [{ code: 'order_rejected', kind: 'refused', message: reason }],
  });
  expect(fromFailure(error)).toMatchObject({ code: 'order_rejected', kind: 'refused', message: reason });
  expect(result).toEqual({ orderId: order.orderId, state: 'rejected', reason });
  expect(names()).toEqual(['debitOrder']);
});

it('an order below the threshold is sent to its pool and ends with the first settlement', async () => {
  // The pool itself is covered in workflows-unit-pool.test.ts; here it is only recorded.
  setUp({ enqueueInPool: async () => undefined });
  const order = input('4', 'ETH');
  const { handle, view } = await place(order);
  await until(async () => (await handle.query(orderStatusQuery)).state === 'aggregated');
  const status = await handle.query(orderStatusQuery);
  await handle.signal(orderSettledSignal, { state: 'completed', batchId: 'ETH-1-a' });
  // The duplicate lands in the first one's workflow task, or after the workflow has ended on it:
  // either way the first settlement decides.
  await handle
    .signal(orderSettledSignal, { state: 'failed', batchId: 'ETH-2-b', reason: 'late duplicate' })
    .catch((error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    });
  const result = await handle.result();
  expect(view).toMatchObject({ id: order.orderId, total_price: '4.00', state: 'aggregated' });
  expect(status).toEqual({ orderId: order.orderId, state: 'aggregated' });
  expect(stubs.callsTo('enqueueInPool')).toEqual([
    ['ETH', { orderId: order.orderId, total: '4.00', amount: '4' }],
  ]);
  expect(names()).not.toContain('buyOrder');
  expect(result).toEqual({ orderId: order.orderId, state: 'completed', batchId: 'ETH-1-a' });
});

it('a buy the exchange rejects is refunded with its reason', async () => {
  setUp({
    buyOrder: async () => {
      throw ApplicationFailure.create({
        type: 'ExchangeRejected',
        message: 'exchange rejected the purchase: unknown_crypto: no such market',
        nonRetryable: true,
      });
    },
  });
  const order = input('12');
  const result = await (await place(order)).handle.result();
  const reason = 'exchange rejected the purchase: unknown_crypto: no such market';
  expect(result).toEqual({ orderId: order.orderId, state: 'failed', reason });
  expect(names()).toEqual(['debitOrder', 'buyOrder', 'refundOrder']);
  expect(stubs.callsTo('refundOrder')).toEqual([[order.orderId, reason]]);
});

it('an exchange down for the whole retry window: asked under the order id, then refunded', async () => {
  setUp({
    buyOrder: async () => {
      throw new Error('exchange unavailable');
    },
  });
  const order = input('12');
  const before = await server.env.currentTimeMs();
  const result = await (await place(order)).handle.result();
  const elapsed = (await server.env.currentTimeMs()) - before;
  expect(result).toEqual({
    orderId: order.orderId,
    state: 'failed',
    reason: 'the exchange could not be reached',
  });
  // Retried with backoff for the hour the exchange activity allows (skipped, not waited).
  expect(stubs.callsTo('buyOrder').length).toBeGreaterThan(10);
  expect(elapsed).toBeGreaterThanOrEqual(55 * 60_000);
  expect(stubs.callsTo('findFill')).toEqual([[`order-${order.orderId}`, 'ABAN']]);
  expect(stubs.callsTo('refundOrder')).toEqual([[order.orderId, 'the exchange could not be reached']]);
});

it('a buy whose answer was lost is found under the order id and completed, not refunded', async () => {
  const s: Stubs = setUp({
    buyOrder: async (o) => {
      await s.defaults.buyOrder(o); // the exchange buys, the answer never arrives
      throw new Error('socket hang up');
    },
  });
  const order = input('12');
  const result = await (await place(order)).handle.result();
  expect(result).toEqual({ orderId: order.orderId, state: 'completed' });
  expect(stubs.callsTo('findFill')).toEqual([[`order-${order.orderId}`, 'ABAN']]);
  expect(stubs.callsTo('completeOrder')).toEqual([
    [
      order.orderId,
      expect.objectContaining({ exchangeOrderId: 'ex-1', clientOrderId: `order-${order.orderId}` }),
    ],
  ]);
  expect(names()).not.toContain('refundOrder');
});

describe("the debit's activity goes on", () => {
  /** The local activities the workflow's history records, by type. */
  async function localActivities(handle: Awaited<ReturnType<typeof place>>['handle']) {
    const { events } = await handle.fetchHistory();
    return (events ?? [])
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => {
        const data = e.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data!;
        return (JSON.parse(Buffer.from(data).toString()) as { activity_type: string }).activity_type;
      });
  }

  it('an order bought alone takes one local activity: debit, buy and completion', async () => {
    setUp();
    const order = input('12');
    const { handle } = await place(order);
    expect(await handle.result()).toEqual({ orderId: order.orderId, state: 'completed' });
    expect(await localActivities(handle)).toEqual(['debitOrder']);
    expect(names()).toEqual(['debitOrder', 'buyOrder', 'completeOrder']);
  });

  it('a completion that fails there is taken by the workflow with the fill, not bought again', async () => {
    let failures = 0;
    const s: Stubs = setUp({
      completeOrder: async (orderId, fill) => {
        if (failures++ === 0) throw new Error('connection terminated');
        return s.defaults.completeOrder(orderId, fill);
      },
    });
    const order = input('12');
    const { handle } = await place(order);
    expect(await handle.result()).toEqual({ orderId: order.orderId, state: 'completed' });
    expect(stubs.callsTo('buyOrder')).toHaveLength(1);
    expect(stubs.callsTo('completeOrder')).toHaveLength(2);
    expect(stubs.callsTo('completeOrder')[1]).toEqual([
      order.orderId,
      expect.objectContaining({ exchangeOrderId: 'ex-1', clientOrderId: `order-${order.orderId}` }),
    ]);
    expect(await localActivities(handle)).toEqual(['debitOrder', 'completeOrder']);
  });

  it('a buy with no answer within QUICK_BUY_MS there is taken by the workflow', async () => {
    let calls = 0;
    const s: Stubs = setUp({
      buyOrder: async (o) => (calls++ === 0 ? new Promise(() => undefined) : s.defaults.buyOrder(o)),
    });
    const order = input('12');
    const { handle } = await place(order);
    expect(await handle.result()).toEqual({ orderId: order.orderId, state: 'completed' });
    expect(stubs.callsTo('buyOrder')).toHaveLength(2);
    expect(await localActivities(handle)).toEqual(['debitOrder', 'buyOrder', 'completeOrder']);
  });

  it('a pooled order seen settled while the activity watched ends in the same task, no signal needed', async () => {
    const settled = { state: 'completed' as const, batchId: 'ETH-1-seen' };
    setUp({}, { awaitSettlement: async () => settled });
    const order = input('4', 'ETH');
    const { handle } = await place(order);
    expect(await handle.result()).toEqual({ orderId: order.orderId, ...settled });
    expect(await localActivities(handle)).toEqual(['debitOrder']);
    const { events } = await handle.fetchHistory();
    // One workflow task: the order never showed `aggregated`, and no signal woke it.
    expect(events?.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    expect(events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
  });

  it("the workflow's own enqueue that finds the order settled ends it", async () => {
    let joins = 0;
    setUp({
      enqueueInPool: async () => {
        // The debit's join fails; the workflow's enqueue finds the order already settled.
        if (joins++ === 0) throw new Error('Temporal unreachable');
        return { state: 'cancelled', reason: 'cancelled by its owner' };
      },
    });
    const order = input('4', 'ETH');
    const { handle } = await place(order);
    expect(await handle.result()).toEqual({
      orderId: order.orderId,
      state: 'cancelled',
      reason: 'cancelled by its owner',
    });
    expect(await localActivities(handle)).toEqual(['debitOrder', 'enqueueInPool']);
  });

  it('joining the pool that fails there is taken by the workflow', async () => {
    let failures = 0;
    setUp({
      enqueueInPool: async () => {
        if (failures++ === 0) throw new Error('Temporal unreachable');
        return undefined;
      },
    });
    const order = input('4', 'ETH');
    const { handle } = await place(order);
    await until(async () => (await handle.query(orderStatusQuery)).state === 'aggregated');
    expect(stubs.callsTo('enqueueInPool')).toEqual([
      ['ETH', { orderId: order.orderId, total: '4.00', amount: '4' }],
      ['ETH', { orderId: order.orderId, total: '4.00', amount: '4' }],
    ]);
    await handle.signal(orderSettledSignal, { state: 'completed', batchId: 'ETH-1-a' });
    expect(await handle.result()).toMatchObject({ state: 'completed' });
    expect(await localActivities(handle)).toEqual(['debitOrder', 'enqueueInPool']);
  });
});

describe('review', () => {
  const DAY = 24 * 3_600_000;
  const holding = () =>
    setUp({
      debitOrder: async (o) => ({
        ...held((await stubs.defaults.debitOrder(o)).order),
        reviewTimeoutMs: DAY,
      }),
    });

  it('a held order nobody reviews is rejected and refunded when the review time runs out', async () => {
    holding();
    const order = input('20');
    const before = await server.env.currentTimeMs();
    const { handle, view } = await place(order);
    await server.env.sleep('23 hours');
    const stillHeld = (await handle.query(orderStatusQuery)).state;
    // Awaiting the result lets the server skip past the deadline.
    const result = await handle.result();
    const elapsed = (await server.env.currentTimeMs()) - before;
    expect(view).toMatchObject({ id: order.orderId, state: 'held' });
    expect(stillHeld).toBe('held');
    expect(result).toEqual({ orderId: order.orderId, state: 'failed', reason: 'not reviewed in time' });
    expect(elapsed).toBeGreaterThanOrEqual(DAY);
    expect(stubs.callsTo('rejectHeldOrder')).toEqual([[order.orderId, null, 'not reviewed in time']]);
    expect(names()).toEqual(['debitOrder', 'rejectHeldOrder']);
  });

  it('an approved order answers the review with the order and is then bought', async () => {
    holding();
    const order = input('20');
    const { handle } = await place(order);
    const reviewed = await handle.executeUpdate(reviewOrderUpdate, {
      args: [{ decision: 'approve', adminId: 7 }],
    });
    const result = await handle.result();
    expect(reviewed).toMatchObject({ id: order.orderId, state: 'pending' });
    expect(result).toEqual({ orderId: order.orderId, state: 'completed' });
    expect(stubs.callsTo('approveHeldOrder')).toEqual([[order.orderId, 7]]);
    expect(names()).toEqual(['debitOrder', 'approveHeldOrder', 'buyOrder', 'completeOrder']);
  });

  it('a rejected order is refunded; a second review is refused', async () => {
    holding();
    const order = input('20');
    const { handle } = await place(order);
    const reviewed = await handle.executeUpdate(reviewOrderUpdate, {
      args: [{ decision: 'reject', adminId: 7 }],
    });
    const again = await handle
      .executeUpdate(reviewOrderUpdate, { args: [{ decision: 'approve', adminId: 8 }] })
      .catch((e: unknown) => e);
    const result = await handle.result();
    expect(reviewed).toMatchObject({
      id: order.orderId,
      state: 'failed',
      failure_reason: 'rejected by review',
    });
    // Refused by the validator, or by the server once the workflow has closed: never applied.
    expect(again).toBeInstanceOf(Error);
    expect(result).toEqual({ orderId: order.orderId, state: 'failed', reason: 'rejected by review' });
    expect(stubs.callsTo('rejectHeldOrder')).toEqual([[order.orderId, 7, 'rejected by review']]);
    expect(names()).not.toContain('approveHeldOrder');
  });
});
