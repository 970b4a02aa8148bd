import { MockActivityEnvironment } from '@temporalio/testing';
import { poolWorkflow } from '../src/workflows/index.js';
import {
  addToPoolSignal,
  poolQuery,
  poolWorkflowId,
  type PoolArrivals,
  type PoolView,
} from '../src/workflows/definitions.js';
import type { OrderInput } from '../src/domain/orders.js';
import { ExchangeUnavailableError, type Exchange } from '../src/exchange/exchange.js';
import { createActivities } from '../src/activities/index.js';
import { fraudConfig } from '../src/config/env.js';
import { testEnv } from './support/api.js';
import { reconcile } from '../src/services/ledger.js';
import {
  addCrypto,
  balance,
  fundedUser,
  startPipeline,
  type Pipeline,
  orderInput,
  startOrder,
} from './support/pipeline.js';

// Cryptos the simulator also sells, one per test so pools do not mix; P1..P6 cost 1.00. NOSALE it refuses.
const SIM_PRICES = 'ABAN=4.00,BTC=50000.00,ETH=3000.00,P1=1.00,P2=1.00,P3=1.00,P4=1.00,P5=1.00,P6=1.00';

let p: Pipeline;
let failNextBuys = 0;
beforeAll(async () => {
  const flaky = (exchange: Exchange): Exchange => ({
    markets: (cryptos) => exchange.markets(cryptos),
    findFill: (id, crypto, earlier) => exchange.findFill(id, crypto, earlier),
    buy: async (request) => {
      if (failNextBuys > 0) {
        failNextBuys--;
        throw new ExchangeUnavailableError('injected outage');
      }
      return exchange.buy(request);
    },
  });
  p = await startPipeline({
    maxWaitMs: 15 * 60_000,
    poolFeedLingerMs: 200,
    wrapExchange: flaky,
    simulatorEnv: { EXCHANGE_SIM_PRICES: SIM_PRICES },
  });
  for (const name of ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'NOSALE']) await addCrypto(p.db, name, '1.00');
});
afterAll(async () => p?.close());

const order = (userId: number, crypto: string, amount: string) => orderInput(p, userId, crypto, amount);
const start = (input: OrderInput) => startOrder(p, input);
const run = (input: OrderInput) => start(input).then((h) => h.result());
const orderRow = async (id: number) =>
  (
    await p.db.orm.em
      .fork()
      .execute<{ state: string; batch_id: string | null }[]>(
        'select state, batch_id from orders where id = ?',
        [id],
      )
  )[0];
const ledger = (orderId: number) =>
  p.db.orm.em
    .fork()
    .execute<{ type: string; amount: string }[]>(
      'select type, amount from transactions where order_id = ? order by id',
      [orderId],
    );

it('buys a large order alone and completes it', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'ABAN', '3');
  const result = await p.withWorker(run(input));
  expect(result).toMatchObject({ orderId: input.orderId, state: 'completed' });
  expect(await orderRow(input.orderId)).toMatchObject({ state: 'completed' });
  expect(await balance(p.db, user)).toBe('88.00');
  const fills = (await p.sim.fills()).filter((f) => f.client_order_id === `order-${input.orderId}`);
  expect(fills).toEqual([expect.objectContaining({ notional: '12.00000000', crypto: 'ABAN' })]);
});

it('refuses an order the wallet cannot pay, moving nothing', async () => {
  const user = await fundedUser(p.db, '5.00');
  const input = await order(user, 'ABAN', '3');
  const result = await p.withWorker(run(input));
  expect(result).toMatchObject({ state: 'rejected' });
  expect(await orderRow(input.orderId)).toBeUndefined();
  expect(await balance(p.db, user)).toBe('5.00');
});

it('retries transient exchange errors and buys once', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'ABAN', '5');
  failNextBuys = 3;
  const result = await p.withWorker(run(input));
  expect(failNextBuys).toBe(0);
  expect(result.state).toBe('completed');
  expect((await p.sim.fills()).filter((f) => f.client_order_id === `order-${input.orderId}`)).toHaveLength(1);
});

it('a buy whose answer was lost is retried without buying twice', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'ETH', '0.01');
  await p.sim.setFaults({ drop_rate: 1 });
  const handle = await start(input);
  const result = await p.withWorker(async () => {
    // Wait until the exchange has executed the buy (and dropped the answer), then heal it.
    while (!(await p.sim.fills()).some((f) => f.client_order_id === `order-${input.orderId}`)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await p.sim.setFaults({ drop_rate: 0 });
    return handle.result();
  });
  expect(result.state).toBe('completed');
  expect((await p.sim.fills()).filter((f) => f.client_order_id === `order-${input.orderId}`)).toHaveLength(1);
  expect(await ledger(input.orderId)).toEqual([{ type: 'withdrawal', amount: '30.00' }]);
});

it('an exchange that stays down for the whole retry window: refunded, since it never bought', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'ABAN', '5');
  failNextBuys = 1_000_000;
  const result = await p.withWorker(run(input));
  failNextBuys = 0;
  expect(result).toMatchObject({ state: 'failed', reason: 'the exchange could not be reached' });
  expect(await ledger(input.orderId)).toEqual([
    { type: 'withdrawal', amount: '20.00' },
    { type: 'refund', amount: '20.00' },
  ]);
});

it('an answer lost and then an outage past the retry window: the buy is found, not refunded', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'ETH', '0.005');
  // Every answer is lost, the first buy's included: the exchange bought once, nobody heard.
  await p.sim.setFaults({ drop_rate: 1 });
  try {
    const result = await p.withWorker(run(input));
    expect(result.state).toBe('completed');
  } finally {
    await p.sim.setFaults({ drop_rate: 0 });
  }
  expect(await orderRow(input.orderId)).toMatchObject({ state: 'completed' });
  expect(await ledger(input.orderId)).toEqual([{ type: 'withdrawal', amount: '15.00' }]);
  expect((await p.sim.fills()).filter((f) => f.client_order_id === `order-${input.orderId}`)).toHaveLength(1);
});

it('refunds an order the exchange rejects', async () => {
  const user = await fundedUser(p.db, '50.00');
  const input = await order(user, 'NOSALE', '20');
  const result = await p.withWorker(run(input));
  expect(result).toMatchObject({ state: 'failed', reason: expect.stringContaining('BadSymbol') });
  expect(await orderRow(input.orderId)).toMatchObject({ state: 'failed' });
  expect(await balance(p.db, user)).toBe('50.00');
  expect(await ledger(input.orderId)).toEqual([
    { type: 'withdrawal', amount: '20.00' },
    { type: 'refund', amount: '20.00' },
  ]);
});

it('pools small orders: settles exactly when the pool reaches $10, the remainder stays pooled', async () => {
  const user = await fundedUser(p.db, '100.00');
  const inputs = await Promise.all(['3', '3', '3', '1', '2'].map((a) => order(user, 'P1', a)));
  await p.withWorker(async () => {
    // 3 + 3 + 3 = 9 stays pooled; + 1 = 10 buys those four; the 2 waits for the next batch.
    for (const input of inputs.slice(0, 3)) await start(input);
    await waitFor(async () => (await poolTotal('P1')) === '9.00');
    expect((await p.sim.fills()).filter((f) => f.crypto === 'P1')).toHaveLength(0);
    const fourth = await start(inputs[3]!);
    const settled = await fourth.result();
    expect(settled.state).toBe('completed');
    await start(inputs[4]!);
    await waitFor(async () => (await poolTotal('P1')) === '2.00');
  });
  const rows = await Promise.all(inputs.map((i) => orderRow(i.orderId)));
  expect(rows.map((r) => r?.state)).toEqual([
    'completed',
    'completed',
    'completed',
    'completed',
    'aggregated',
  ]);
  const batchIds = new Set(rows.slice(0, 4).map((r) => r?.batch_id));
  expect(batchIds.size).toBe(1);
  const fills = (await p.sim.fills()).filter((f) => f.crypto === 'P1');
  expect(fills).toEqual([
    expect.objectContaining({ notional: '10.00000000', client_order_id: [...batchIds][0] }),
  ]);
  expect(await balance(p.db, user)).toBe('88.00');
});

it('flushes a pool after the max wait, the house topping it up to $10', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'P2', '4');
  const result = await p.withWorker(async () => {
    const handle = await start(input);
    await waitFor(async () => (await poolTotal('P2')) === '4.00');
    await p.env.sleep('14 minutes');
    expect(await orderRow(input.orderId)).toMatchObject({ state: 'aggregated' });
    // Waiting on the result lets the test server skip the last minute to the flush.
    return handle.result();
  });
  expect(result.state).toBe('completed');
  const [batch] = await p.db.orm.em
    .fork()
    .execute<{ orders_total: string; house_top_up: string; notional: string }[]>(
      'select orders_total, house_top_up, notional from batches b join orders o on o.batch_id = b.id where o.id = ?',
      [input.orderId],
    );
  expect(batch).toEqual({ orders_total: '4.00', house_top_up: '6.00', notional: '10.00' });
});

it('ignores duplicate pool signals', async () => {
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'P3', '4');
  await p.withWorker(async () => {
    await start(input);
    await waitFor(async () => (await poolTotal('P3')) === '4.00');
    const pool = p.client.workflow.getHandle(poolWorkflowId('P3'));
    await pool.signal(addToPoolSignal, { orderId: input.orderId, total: '4.00', amount: '4.00000000' });
    await pool.signal(addToPoolSignal, { orderId: input.orderId, total: '4.00', amount: '4.00000000' });
    expect((await pool.query(poolQuery)).orders).toHaveLength(1);
    expect(await poolTotal('P3')).toBe('4.00');
  });
});

it('orders placed together join their pool in fewer signals than orders, each once', async () => {
  const user = await fundedUser(p.db, '100.00');
  const inputs = await Promise.all(['2', '2', '2', '2', '2'].map((a) => order(user, 'P5', a)));
  const ids = inputs.map((i) => i.orderId);
  await p.withWorker(async () => {
    const handles = await Promise.all(inputs.map(start));
    const settled = await sequentially(handles.map((h) => () => h.result()));
    expect(settled.map((s) => s.state)).toEqual(ids.map(() => 'completed'));
  });
  const events = (await p.client.workflow.getHandle(poolWorkflowId('P5')).fetchHistory()).events ?? [];
  const signals = events.flatMap((e) => {
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (!signal) return [];
    const [payload] = signal.input?.payloads ?? [];
    const arrivals = JSON.parse(Buffer.from(payload!.data!).toString()) as PoolArrivals;
    return [{ name: signal.signalName, ids: arrivals.orders.map((o) => o.orderId) }];
  });
  expect(signals.every((s) => s.name === 'addOrders')).toBe(true);
  expect(signals.length).toBeLessThan(ids.length);
  expect(signals.flatMap((s) => s.ids).sort()).toEqual([...ids].sort());
  const rows = await Promise.all(ids.map(orderRow));
  expect(new Set(rows.map((r) => r?.batch_id)).size).toBe(1);
});

it('refunds every order of a batch the exchange rejects', async () => {
  const user = await fundedUser(p.db, '20.00');
  const inputs = [await order(user, 'NOSALE', '6'), await order(user, 'NOSALE', '5')];
  const results = await p.withWorker(async () => {
    const handles = [];
    for (const input of inputs) handles.push(await start(input));
    return sequentially(handles.map((h) => () => h.result()));
  });
  expect(results.map((r) => r.state)).toEqual(['failed', 'failed']);
  expect(await balance(p.db, user)).toBe('20.00');
  expect((await reconcile(p.db.orm.em.fork())).mismatches).toEqual([]);
});

it('continues-as-new with orders arriving throughout, losing and repeating nothing', async () => {
  // Three buyers, so no one trips the fraud velocity rule.
  const users = [
    await fundedUser(p.db, '100.00'),
    await fundedUser(p.db, '100.00'),
    await fundedUser(p.db, '100.00'),
  ];
  const inputs: OrderInput[] = [];
  for (let i = 0; i < 27; i++) inputs.push(await order(users[i % 3]!, 'P4', '1'));
  // When each order joined the pool, as first seen: continue-as-new must carry it unchanged.
  const addedAt = new Map<number, string>();
  const { firstRunId, view, currentRunId } = await p.withWorker(async () => {
    const pool = await p.client.workflow.start(poolWorkflow, {
      args: [{ crypto: 'P4', threshold: '10.00', maxWaitMs: 15 * 60_000, historyLimit: 25 }],
      workflowId: poolWorkflowId('P4'),
      taskQueue: p.taskQueue,
    });
    // One at a time: each order is in the pool (or already bought) before the next arrives.
    for (const input of inputs) {
      await start(input);
      await waitFor(async () => {
        const row = await orderRow(input.orderId);
        if (row?.state === 'completed') return true;
        const waiting = (await queryPool('P4'))?.orders.find((o) => o.orderId === input.orderId);
        if (waiting) addedAt.set(input.orderId, waiting.added_at);
        return waiting !== undefined;
      });
    }
    const handle = p.client.workflow.getHandle(poolWorkflowId('P4'));
    let view: PoolView | undefined;
    await waitFor(async () => (view = await queryPool('P4')) !== undefined);
    return {
      firstRunId: pool.firstExecutionRunId,
      view: view!,
      currentRunId: (await handle.describe()).runId,
    };
  });
  const rows = await Promise.all(inputs.map((i) => orderRow(i.orderId)));
  // $1 each against a $10 threshold: orders 1-10 and 11-20 are bought, 21-27 wait.
  expect(rows.map((r) => r?.state)).toEqual([...Array(20).fill('completed'), ...Array(7).fill('aggregated')]);
  expect(view.orders.map((o) => o.orderId)).toEqual(inputs.slice(20).map((i) => i.orderId));
  expect(view.orders.map((o) => o.added_at)).toEqual(inputs.slice(20).map((i) => addedAt.get(i.orderId)));
  expect(view.total).toBe('7.00');
  expect(view.batches).toBe(2);
  // Every batch is exactly its orders, and each was bought once under its own id.
  const batches = await p.db.orm.em
    .fork()
    .execute<{ id: string; orders_total: string; n: string; sum: string }[]>(
      `select b.id, b.orders_total, count(o.id) as n, sum(o.total_price) as sum from batches b join orders o on o.batch_id = b.id
        join crypto_currencies c on c.id = b.crypto_id where c.name = 'P4' group by b.id order by min(o.id)`,
    );
  expect(batches.map((b) => [b.orders_total, Number(b.n), b.sum])).toEqual([
    ['10.00', 10, '10.00'],
    ['10.00', 10, '10.00'],
  ]);
  const fills = (await p.sim.fills()).filter((f) => f.crypto === 'P4');
  expect(fills.map((f) => f.client_order_id).sort()).toEqual(batches.map((b) => b.id).sort());
  // The pool really continued as new, several times.
  expect(currentRunId).not.toBe(firstRunId);
});

it('a retried debit debits once', async () => {
  const user = await fundedUser(p.db, '30.00');
  const input = await order(user, 'ABAN', '5');
  const activities = createActivities({
    orm: p.db.orm,
    exchange: {
      markets: async () => [],
      buy: async () => Promise.reject(new Error('unused')),
      findFill: async () => undefined,
    },
    temporal: p.client,
    taskQueue: p.taskQueue,
    aggregationThreshold: 1000n,
    aggregationMaxWaitMs: 60_000,
    maxOrderTotal: 100_000_000n,
    fraud: fraudConfig(testEnv()),
    reviewTimeoutMs: 60_000,
  });
  // Each call as a try of the activity would run (the buy after the debit reads its context).
  const debit = () =>
    new MockActivityEnvironment().run(activities.debitOrder, input) as ReturnType<
      typeof activities.debitOrder
    >;
  const attempts = await Promise.all([debit(), debit(), debit()]);
  expect(new Set(attempts.map((a) => a.order.id))).toEqual(new Set([input.orderId]));
  expect(await debit()).toEqual(attempts[0]);
  expect(await balance(p.db, user)).toBe('10.00');
  expect(await ledger(input.orderId)).toEqual([{ type: 'withdrawal', amount: '20.00' }]);
});

/**
 * Awaits results one at a time: the time-skipping server counts each pending result() as an unlock,
 * and concurrent ones let it skip past workflow tasks still in flight.
 */
async function sequentially<T>(steps: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  for (const step of steps) out.push(await step());
  return out;
}

/** The pool's state, or undefined while it cannot answer (not started yet, or between runs). */
async function queryPool(crypto: string) {
  return p.client
    .withDeadline(Date.now() + 1_000, () =>
      p.client.workflow.getHandle(poolWorkflowId(crypto)).query(poolQuery),
    )
    .catch(() => undefined);
}

async function poolTotal(crypto: string): Promise<string | undefined> {
  return (await queryPool(crypto))?.total;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
