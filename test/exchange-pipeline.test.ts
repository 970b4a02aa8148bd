/**
 * The whole pipeline against the simulator through the ccxt driver, where the exchange's own rules
 * decide: a key the exchange refuses, and a market minimum above the pooling threshold.
 */
import type { OrderInput } from '../src/domain/orders.js';
import { reconcile } from '../src/services/ledger.js';
import {
  balance,
  fundedUser,
  orderInput,
  startOrder,
  startPipeline,
  type Pipeline,
} from './support/pipeline.js';
import { eventually, fundedUser as apiUser, startApi } from './support/api.js';

let p: Pipeline;
afterAll(async () => p?.close());

const order = (userId: number, crypto: string, amount: string) => orderInput(p, userId, crypto, amount);
const start = (input: OrderInput) => startOrder(p, input);
const run = (input: OrderInput) => start(input).then((h) => h.result());
const rows = <T extends object>(sql: string, params: unknown[] = []) =>
  p.db.orm.em.fork().execute<T[]>(sql, params);

it('a secret the exchange does not accept fails the order and refunds it exactly', async () => {
  // The simulator signs with another secret than the driver's: every signed request is refused (-1022).
  p = await startPipeline({ simulatorEnv: { EXCHANGE_SIM_SECRET: 'not-the-driver-secret' } });
  const user = await fundedUser(p.db, '100.00');
  const input = await order(user, 'ABAN', '3');
  const result = await p.withWorker(run(input));
  expect(result).toMatchObject({ orderId: input.orderId, state: 'failed' });
  expect(result.reason).toMatch(/AuthenticationError/);
  expect(
    await rows<{ type: string; amount: string }>(
      'select type, amount::text from transactions where order_id = ? order by id',
      [input.orderId],
    ),
  ).toEqual([
    { type: 'withdrawal', amount: '12.00' },
    { type: 'refund', amount: '12.00' },
  ]);
  expect(await balance(p.db, user)).toBe('100.00');
  expect(await p.sim.fills()).toEqual([]);
  const check = await reconcile(p.db.orm.em.fork());
  expect({ mismatches: check.mismatches, failures: check.house.failures }).toEqual({
    mismatches: [],
    failures: [],
  });
});

it('a market minimum above the threshold pools a $12 order, and the batch at the minimum is bought', async () => {
  // The real dev server, API and worker: a pool lives as long as it waits, which a time-skipping
  // server would cut short by flushing it. MINQ is this test's own crypto, so no other pool mixes in.
  const api = await startApi({
    worker: true,
    simulatorEnv: { EXCHANGE_SIM_PRICES: 'ABAN=4.00,MINQ=1.00', EXCHANGE_SIM_MIN_NOTIONAL: '15.00' },
  });
  try {
    // The minimum as the price refresh stores it from the market (test/house-ledger.test.ts).
    await api.db.orm.em
      .fork()
      .execute("insert into crypto_currencies (name, price, min_notional) values ('MINQ', '1.00', '15.00')");
    const user = await apiUser(api, '100.00');
    const buy = (amount: string) =>
      api.call('POST', 'orders/', { token: user.access, body: { crypto: 'MINQ', amount } });
    const twelve = await buy('12');
    expect(twelve).toMatchObject({ status: 201, body: { total_price: '12.00', state: 'aggregated' } });
    const three = await buy('3');
    expect(three).toMatchObject({ status: 201, body: { total_price: '3.00' } });
    const orders = await eventually(
      () =>
        Promise.all(
          [twelve, three].map(
            async (o) => (await api.call('GET', `orders/${o.body.id}/`, { token: user.access })).body,
          ),
        ),
      (all) => all.every((o) => o.state === 'completed'),
    );
    const batchId = orders[0].batch_id as string;
    expect(orders.map((o) => o.batch_id)).toEqual([batchId, batchId]);
    const [batch] = await api.db.orm.em
      .fork()
      .execute('select notional::text, house_top_up::text, order_count from batches where id = ?', [batchId]);
    expect(batch).toEqual({ notional: '15.00', house_top_up: '0.00', order_count: 2 });
    const fills = (await api.sim!.fills()).filter((f) => f.crypto === 'MINQ');
    expect(fills).toEqual([
      expect.objectContaining({ client_order_id: batchId, notional: '15.00000000', quantity: '15.00000000' }),
    ]);
    const check = await reconcile(api.db.orm.em.fork());
    expect(check.house.failures).toEqual([]);
  } finally {
    await api.close();
  }
});
