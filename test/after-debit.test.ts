import { ApplicationFailure } from '@temporalio/common';
import { afterDebit, type StepsAfterDebit } from '../src/activities/after-debit.js';
import type { OrderView, Placement } from '../src/domain/orders.js';
import type { Fill } from '../src/exchange/exchange.js';

// The decisions after a debit, with the steps recorded in memory (they are the activities of the
// same name; test/workflows-unit-order.test.ts runs them through the workflow).

const fill = { exchangeOrderId: 'ex-1', clientOrderId: 'order-7' } as Fill;
const order = (state: OrderView['state'], total = '12.00'): OrderView => ({
  id: 7,
  crypto: 'ABAN',
  amount: '3.00000000',
  price: '4.00',
  total_price: total,
  state,
  batch_id: null,
  failure_reason: null,
  created_at: '2026-11-30T00:00:00.000Z',
  updated_at: '2026-11-30T00:00:00.000Z',
});

function recording(overrides: Partial<StepsAfterDebit> = {}) {
  const calls: string[] = [];
  const steps: StepsAfterDebit = {
    buyOrder: async (o) => (calls.push('buyOrder'), overrides.buyOrder ? overrides.buyOrder(o) : fill),
    completeOrder: async (id, f) => {
      calls.push('completeOrder');
      if (overrides.completeOrder) await overrides.completeOrder(id, f);
    },
    joinPool: async (crypto, o) => {
      calls.push('joinPool');
      if (overrides.joinPool) await overrides.joinPool(crypto, o);
    },
    awaitSettlement: async (id) => {
      calls.push('awaitSettlement');
      return overrides.awaitSettlement ? overrides.awaitSettlement(id) : undefined;
    },
  };
  return { steps, calls };
}
const quiet = () => undefined;

it('buys and completes an order bought alone, and puts a pooled one in its pool', async () => {
  const alone = recording();
  expect(await afterDebit({ order: order('pending'), route: 'exchange' }, alone.steps, quiet)).toEqual({
    completed: true,
  });
  expect(alone.calls).toEqual(['buyOrder', 'completeOrder']);
  const pooled = recording();
  const placed: Placement = { order: order('aggregated', '2.00'), route: 'pool' };
  expect(await afterDebit(placed, pooled.steps, quiet)).toEqual({ enqueued: true });
  expect(pooled.calls).toEqual(['joinPool', 'awaitSettlement']);
});

it('says how a pooled order ended when its batch settled it while the activity watched', async () => {
  const placed: Placement = { order: order('aggregated', '2.00'), route: 'pool' };
  const settled = { state: 'completed' as const, batchId: 'ABAN-1-abcd1234' };
  const watched = recording({ awaitSettlement: async () => settled });
  expect(await afterDebit(placed, watched.steps, quiet)).toEqual({ settled });
  expect(watched.calls).toEqual(['joinPool', 'awaitSettlement']);
});

it('leaves a pooled order to the workflow when it may not have reached its pool, or not been handed over', async () => {
  const placed: Placement = { order: order('aggregated', '2.00'), route: 'pool' };
  const logged: string[] = [];
  const log = (m: string) => void logged.push(m);
  const unsent = recording({
    joinPool: async () => {
      throw new Error('temporal unavailable');
    },
  });
  expect(await afterDebit(placed, unsent.steps, log)).toBeUndefined();
  expect(unsent.calls).toEqual(['joinPool']);
  // Watched and then not handed to the pool's signal (the database failed): the workflow's own
  // enqueue hands it over, or finds it settled.
  const unwatched = recording({
    awaitSettlement: async () => {
      throw new Error('connection terminated');
    },
  });
  expect(await afterDebit(placed, unwatched.steps, log)).toBeUndefined();
  expect(unwatched.calls).toEqual(['joinPool', 'awaitSettlement']);
  expect(logged).toEqual([
    'joining the pool is left to the workflow',
    'waiting for the pool is left to the workflow',
  ]);
});

it('does nothing for an order held, refused, or settled since its debit (a retried debit finds it)', async () => {
  const cases: Placement[] = [
    { order: order('held'), route: 'review' },
    { order: order('failed'), route: 'rejected' },
    { order: order('completed'), route: 'exchange' },
    { order: order('failed'), route: 'exchange' },
    { order: order('cancelled', '2.00'), route: 'pool' },
  ];
  for (const placed of cases) {
    const { steps, calls } = recording();
    expect(await afterDebit(placed, steps, quiet)).toBeUndefined();
    expect(calls).toEqual([]);
  }
});

it("says the exchange's refusal, hands back a fill it could not record, and leaves other failures", async () => {
  const placed: Placement = { order: order('pending'), route: 'exchange' };
  const message = 'exchange rejected the purchase: BadSymbol: no market';
  const rejected = recording({
    buyOrder: async () => {
      throw ApplicationFailure.create({ type: 'ExchangeRejected', message, nonRetryable: true });
    },
  });
  expect(await afterDebit(placed, rejected.steps, quiet)).toEqual({ rejected: message });
  expect(rejected.calls).toEqual(['buyOrder']);

  const unrecorded = recording({
    completeOrder: async () => {
      throw new Error('connection terminated');
    },
  });
  expect(await afterDebit(placed, unrecorded.steps, quiet)).toEqual({ fill });

  const logged: string[] = [];
  const down = recording({
    buyOrder: async () => {
      throw new Error('ECONNREFUSED');
    },
  });
  expect(await afterDebit(placed, down.steps, (m) => logged.push(m))).toBeUndefined();
  expect(down.calls).toEqual(['buyOrder']);
  expect(logged).toEqual(['the purchase is left to the workflow']);
});
