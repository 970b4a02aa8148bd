import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import {
  NOT_IN_POOL,
  addToPoolSignal,
  cancelOrderUpdate,
  orderStatusQuery,
  poolQuery,
  poolWorkflowId,
  reviewOrderUpdate,
  type CancelRequest,
  type PoolView,
} from '../src/workflows/definitions.js';
import type { OrderInput, OrderView } from '../src/domain/orders.js';
import type { Activities } from '../src/activities/index.js';
import { fromFailure } from '../src/temporal/failures.js';
import { placeOrder, refusal, type Stubs, until, stubServerPerFile } from './support/stub-activities.js';

// Cancelling a waiting order, decided by the workflow that holds it (the pool for a pooled order,
// the order's own workflow for a held one), against in-memory activities ($1 a coin, $10 threshold).

const server = stubServerPerFile('unit-cancel');
const { taskQueue } = server;

let stubs: Stubs;
let crypto: string;
let cryptos = 0;
let nextId = 1;
function setUp(overrides: Partial<Activities> = {}): Stubs {
  crypto = `C${++cryptos}`;
  stubs = server.useStubs(overrides);
  return stubs;
}
afterEach(async () => {
  await server.env.client.workflow
    .getHandle(poolWorkflowId(crypto))
    .terminate('test over')
    .catch(() => undefined);
});

const input = (amount: string): OrderInput => ({ orderId: nextId++, userId: 1, crypto, amount });
const pool = () => server.env.client.workflow.getHandle(poolWorkflowId(crypto));
const view = (): Promise<PoolView | undefined> =>
  server.env.client.withDeadline(Date.now() + 5_000, () => pool().query(poolQuery)).catch(() => undefined);
const pooledIds = async () => (await view())?.orders.map((o) => o.orderId) ?? [];
const owner = (orderId: number): CancelRequest => ({ orderId, by: 'owner' });

/** Places an order and waits until the pool holds it (or, when it fills the pool, has opened its batch). */
async function pooled(amount: string) {
  const order = input(amount);
  const { handle } = await placeOrder(server.env.client, taskQueue, order);
  await until(
    async () =>
      (await pooledIds()).includes(order.orderId) ||
      stubs.callsTo('openBatch').some(([, , ids]) => ids.includes(order.orderId)),
  );
  return { order, handle };
}

/** The update's failure: the error the client got and the failure the workflow threw. */
async function refused(update: Promise<unknown>) {
  const error = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('the pool', () => {
  it('takes a cancelled order out: the total shrinks, the order ends cancelled, the next batch leaves it out', async () => {
    setUp();
    const first = await pooled('4');
    const second = await pooled('3');
    expect((await view())?.total).toBe('7.00');

    const cancelled = await pool().executeUpdate(cancelOrderUpdate, { args: [owner(first.order.orderId)] });
    expect(cancelled).toMatchObject({
      id: first.order.orderId,
      state: 'cancelled',
      failure_reason: 'cancelled by its owner',
    });
    expect(await view()).toMatchObject({
      total: '3.00',
      orders: [expect.objectContaining({ orderId: second.order.orderId })],
    });
    // Its status, not its result: awaiting a result lets the server skip time to the pool's max wait.
    await until(async () => (await first.handle.query(orderStatusQuery)).state === 'cancelled');
    expect(await first.handle.query(orderStatusQuery)).toEqual({
      orderId: first.order.orderId,
      state: 'cancelled',
      reason: 'cancelled by its owner',
    });
    expect(stubs.callsTo('cancelOrder')).toEqual([[first.order.orderId, { by: 'owner' }]]);

    // A late duplicate of the cancelled order's signal is ignored.
    await pool().signal(addToPoolSignal, { orderId: first.order.orderId, total: '4.00', amount: '4' });
    expect((await view())?.total).toBe('3.00');
    // $3 + $6 is under the threshold without the cancelled $4; $3 + $6 + $1 reaches it.
    const third = await pooled('6');
    expect(stubs.callsTo('openBatch')).toEqual([]);
    const fourth = await pooled('1');
    await until(async () => stubs.callsTo('openBatch').length === 1);
    expect(stubs.callsTo('openBatch')[0]![2]).toEqual([
      second.order.orderId,
      third.order.orderId,
      fourth.order.orderId,
    ]);
    for (const o of [second, third, fourth]) expect((await o.handle.result()).state).toBe('completed');
  });

  it('refuses what it does not hold, a malformed request, and a second cancel, and changes nothing', async () => {
    setUp();
    const kept = await pooled('5');
    const unknown = await refused(pool().executeUpdate(cancelOrderUpdate, { args: [owner(999_999)] }));
    expect(unknown.type).toBe(NOT_IN_POOL);
    const malformed = await refused(
      pool().executeUpdate(cancelOrderUpdate, {
        args: [{ orderId: kept.order.orderId, by: 'someone' } as unknown as CancelRequest],
      }),
    );
    expect(malformed.message).toMatch(/a cancel is/);
    const notAdmin = await refused(
      pool().executeUpdate(cancelOrderUpdate, {
        args: [{ orderId: kept.order.orderId, by: 'admin' } as unknown as CancelRequest],
      }),
    );
    expect(notAdmin.message).toMatch(/a cancel is/);
    expect(stubs.callsTo('cancelOrder')).toEqual([]);
    expect((await view())?.total).toBe('5.00');

    await pool().executeUpdate(cancelOrderUpdate, {
      args: [{ orderId: kept.order.orderId, by: 'admin', adminId: 7 }],
    });
    const again = await refused(
      pool().executeUpdate(cancelOrderUpdate, { args: [owner(kept.order.orderId)] }),
    );
    expect(again.type).toBe(NOT_IN_POOL);
    expect(stubs.callsTo('cancelOrder')).toEqual([[kept.order.orderId, { by: 'admin', adminId: 7 }]]);
    expect(await view()).toMatchObject({ total: '0.00', orders: [] });
  });

  it('refuses an order in the batch being bought: it is bought, never refunded', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stubbed = setUp({
      buyBatch: async (...args) => {
        await gate;
        return stubbed.defaults.buyBatch(...args);
      },
    });
    const first = await pooled('4');
    const second = input('6');
    const { handle } = await placeOrder(server.env.client, taskQueue, second);
    await until(async () => stubs.callsTo('buyBatch').length === 1);

    const failure = await refused(
      pool().executeUpdate(cancelOrderUpdate, { args: [owner(first.order.orderId)] }),
    );
    expect(fromFailure(failure)).toMatchObject({ code: 'order_not_cancellable' });
    release();
    expect((await first.handle.result()).state).toBe('completed');
    expect((await handle.result()).state).toBe('completed');
    expect(stubs.callsTo('cancelOrder')).toEqual([]);
  });

  it('puts the order back when the database refuses the cancel', async () => {
    setUp({
      cancelOrder: async () => {
        throw refusal('order_not_cancellable', 'the order cannot be cancelled: it is failed');
      },
    });
    const order = await pooled('4');
    const later = await pooled('3');
    const before = await view();
    const failure = await refused(
      pool().executeUpdate(cancelOrderUpdate, { args: [owner(order.order.orderId)] }),
    );
    expect(fromFailure(failure)).toMatchObject({ code: 'order_not_cancellable' });
    // Back in its place: still the oldest, so the pool's flush time has not moved.
    expect(await pooledIds()).toEqual([order.order.orderId, later.order.orderId]);
    expect(await view()).toMatchObject({ total: '7.00', flush_at: before?.flush_at });
  });
});

describe('a held order', () => {
  const DAY = 24 * 3_600_000;
  const held = (order: OrderView) => ({
    order: { ...order, state: 'held' as const },
    route: 'review' as const,
  });
  const holding = (overrides: Partial<Activities> = {}) => {
    const stubbed = setUp({
      debitOrder: async (o) => ({
        ...held((await stubbed.defaults.debitOrder(o)).order),
        reviewTimeoutMs: DAY,
      }),
      ...overrides,
    });
    return stubbed;
  };

  it('is cancelled by its own workflow, which then refuses a review', async () => {
    holding();
    const order = input('20');
    const { handle } = await placeOrder(server.env.client, taskQueue, order);
    const cancelled = await handle.executeUpdate(cancelOrderUpdate, {
      args: [{ orderId: order.orderId, by: 'admin', adminId: 7 }],
    });
    expect(cancelled).toMatchObject({
      id: order.orderId,
      state: 'cancelled',
      failure_reason: 'cancelled by an admin',
    });
    const review = await handle
      .executeUpdate(reviewOrderUpdate, { args: [{ decision: 'approve', adminId: 7 }] })
      .catch((e: unknown) => e);
    expect(review).toBeInstanceOf(Error);
    expect(await handle.result()).toEqual({
      orderId: order.orderId,
      state: 'cancelled',
      reason: 'cancelled by an admin',
    });
    expect(stubs.calls.map((c) => c.name)).toEqual(['debitOrder', 'cancelOrder']);
  });

  it('stays held when the cancel is refused, and can still be reviewed', async () => {
    holding({
      cancelOrder: async () => {
        throw refusal('order_not_cancellable', 'the order cannot be cancelled: it is failed');
      },
    });
    const order = input('20');
    const { handle } = await placeOrder(server.env.client, taskQueue, order);
    const failure = await refused(
      handle.executeUpdate(cancelOrderUpdate, { args: [{ orderId: order.orderId, by: 'owner' }] }),
    );
    expect(fromFailure(failure)).toMatchObject({ code: 'order_not_cancellable' });
    expect((await handle.query(orderStatusQuery)).state).toBe('held');
    const approved = await handle.executeUpdate(reviewOrderUpdate, {
      args: [{ decision: 'approve', adminId: 7 }],
    });
    expect(approved).toMatchObject({ state: 'pending' });
    expect((await handle.result()).state).toBe('completed');
  });

  it('an order not held refuses a cancel sent to its workflow (the pool decides those)', async () => {
    setUp();
    const { order, handle } = await pooled('4');
    const failure = await refused(
      handle.executeUpdate(cancelOrderUpdate, { args: [{ orderId: order.orderId, by: 'owner' }] }),
    );
    expect(fromFailure(failure)).toMatchObject({ code: 'order_not_cancellable' });
    expect(await pooledIds()).toEqual([order.orderId]);
  });
});
