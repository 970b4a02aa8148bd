import { ADMIN, login, newUser, startApi, type TestApi } from './support/api.js';
import { completeOrder, debitOrder } from '../src/services/orders.js';
import { completeBatch, openBatch } from '../src/services/batches.js';
import { fraudConfig } from '../src/config/env.js';
import type { Fill } from '../src/exchange/exchange.js';

// The admin views of exchange purchases and of the house account, over real HTTP. The purchases
// are completed through the services with synthetic fills (no exchange is needed to record one).

let api: TestApi;
let admin: string;
let adminId: number;
const em = () => api.db.orm.em.fork();
const run = <T>(query: string, params: unknown[] = []) => em().execute<T[]>(query, params);
const one = async <T>(query: string, params: unknown[] = []) => (await run<T>(query, params))[0]!;

async function placeOrder(amount: string): Promise<number> {
  const { id } = await one<{ id: string }>("select nextval('orders_id_seq') as id");
  const orderId = Number(id);
  await debitOrder(
    em(),
    { orderId, userId: adminId, crypto: 'ABAN', amount },
    { threshold: 1000n, maxTotal: 100_000_000n, fraud: fraudConfig(api.env) },
  );
  return orderId;
}

const fill = (clientOrderId: string, patch: Partial<Fill>): Fill => ({
  exchangeOrderId: `ex-${clientOrderId}`,
  clientOrderId,
  crypto: 'ABAN',
  symbol: 'ABAN/USDT',
  quoteSpent: '12.00000000',
  quantity: '3.00000000',
  averagePrice: '4.00000000',
  commission: '0',
  commissionAsset: 'ABAN',
  ...patch,
});

let alone: number;
let pooled: number[];
beforeAll(async () => {
  api = await startApi({ env: { FRAUD_ENABLED: 'false' } });
  admin = await login(api, ADMIN.username, ADMIN.password);
  adminId = Number((await run<{ id: number }>("select id from users where username = 'admin'"))[0]!.id);
  // An order bought alone ($12.00, 3 ABAN at 4.00), filled 3.001 less a commission of 0.003 ABAN.
  alone = await placeOrder('3');
  await completeOrder(
    em(),
    alone,
    fill(`order-${alone}`, { quoteSpent: '11.99960000', quantity: '3.00100000', commission: '0.00300000' }),
  );
  // Two pooled orders ($4.00 + $2.00) in a batch the house tops up to $10.00.
  pooled = [await placeOrder('1'), await placeOrder('0.5')];
  await openBatch(em(), 'ABAN-1-admin', 'ABAN', pooled, 1000n);
  await completeBatch(
    em(),
    'ABAN-1-admin',
    fill('ABAN-1-admin', { quoteSpent: '10.00000000', quantity: '2.50000000' }),
  );
});
afterAll(async () => api?.close());

it('401 without a token, 403 for a non-admin', async () => {
  const user = await newUser(api);
  for (const path of ['admin/batches/', 'admin/house/']) {
    expect((await api.call('GET', path)).status).toBe(401);
    expect((await api.call('GET', path, { token: user.access })).status).toBe(403);
  }
});

it('lists every exchange purchase newest first with its fill and orders, a page at a time', async () => {
  const first = await api.call('GET', 'admin/batches/?limit=1', { token: admin });
  expect(first.status).toBe(200);
  expect(first.body.results).toEqual([
    {
      id: expect.any(Number),
      client_order_id: 'ABAN-1-admin',
      kind: 'batch',
      crypto: 'ABAN',
      symbol: 'ABAN/USDT',
      exchange_order_id: 'ex-ABAN-1-admin',
      quote_asked: '10.00',
      house_top_up: '4.00',
      fill: {
        quote_spent: '10.00000000',
        quantity: '2.50000000',
        average_price: '4.00000000',
        commission: '0.00000000',
        commission_asset: 'ABAN',
      },
      orders: [
        { id: pooled[0], user_id: adminId, amount: '1.00000000', total_price: '4.00', state: 'completed' },
        { id: pooled[1], user_id: adminId, amount: '0.50000000', total_price: '2.00', state: 'completed' },
      ],
      created_at: expect.any(String),
    },
  ]);
  expect(first.body.next_cursor).toBe(String(first.body.results[0].id));
  const second = await api.call('GET', `admin/batches/?limit=1&cursor=${first.body.next_cursor}`, {
    token: admin,
  });
  expect(second.body).toEqual({
    results: [
      expect.objectContaining({
        client_order_id: `order-${alone}`,
        kind: 'order',
        quote_asked: '12.00',
        house_top_up: '0.00',
        orders: [
          { id: alone, user_id: adminId, amount: '3.00000000', total_price: '12.00', state: 'completed' },
        ],
      }),
    ],
    next_cursor: null,
  });
});

it('shows the house balance, its position per asset and its entries, a page at a time', async () => {
  const house = await api.call('GET', 'admin/house/?limit=2', { token: admin });
  expect(house.status).toBe(200);
  // Alone: unspent 0.0004, fee −0.003 ABAN (−0.012), difference +0.001 ABAN (+0.004).
  // Batch: top-up −4.00, difference +1.00 ABAN (+4.00).
  expect(house.body.balance).toBe('-0.00760000');
  expect(house.body.positions).toEqual([{ asset: 'ABAN', quantity: '0.99800000' }]);
  expect(house.body.entries.results).toEqual([
    {
      id: expect.any(Number),
      purchase: 'ABAN-1-admin',
      kind: 'crypto_difference',
      asset: 'ABAN',
      amount: '4.00000000',
      quantity: '1.00000000',
      created_at: expect.any(String),
    },
    expect.objectContaining({
      purchase: 'ABAN-1-admin',
      kind: 'top_up',
      amount: '-4.00000000',
      quantity: null,
    }),
  ]);
  const rest = await api.call('GET', `admin/house/?cursor=${house.body.entries.next_cursor}`, {
    token: admin,
  });
  expect(rest.body.entries.results.map((e: { kind: string }) => e.kind)).toEqual([
    'crypto_difference',
    'fee',
    'unspent_quote',
  ]);
  expect(rest.body.entries.next_cursor).toBeNull();
});

it('refuses a malformed page with 400', async () => {
  for (const query of ['cursor=abc', 'cursor=0', 'limit=101', 'cursor=-1', 'cursor=1e3', 'other=1']) {
    for (const path of ['admin/batches/', 'admin/house/']) {
      const res = await api.call('GET', `${path}?${query}`, { token: admin });
      expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
    }
  }
});

it('reconciles the purchases against the house and reports it', async () => {
  const res = await api.call('GET', 'admin/reconcile/', { token: admin });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    mismatches: [],
    house: {
      purchases: 2,
      failures: [],
      balance: '-0.00760000',
      positions: [{ asset: 'ABAN', quantity: '0.99800000' }],
      unvalued_fees: [],
    },
  });
  // An order completed with no purchase behind it is named.
  const { id } = await one<{ id: string }>(
    `insert into orders (user_id, crypto_id, amount, price, total_price, state)
     select ?, id, 1, 4.00, 4.00, 'completed' from crypto_currencies where name = 'ABAN' returning id::text`,
    [adminId],
  );
  const after = await api.call('GET', 'admin/reconcile/', { token: admin });
  expect(after.body.house.failures).toEqual([
    expect.objectContaining({ purchase: `order-${id}`, check: 'purchase_recorded' }),
    expect.objectContaining({
      purchase: `order-${id}`,
      order_id: Number(id),
      check: 'order_in_one_purchase',
    }),
  ]);
});
