import { ApplicationFailure } from '@temporalio/common';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { sqlOf } from '../src/db/kysely.js';
import { createAccount } from '../src/services/accounts.js';
import { deposit, getBalance } from '../src/services/wallet.js';
import { completeOrder, debitOrder, refundOrder } from '../src/services/orders.js';
import { completeBatch, openBatch } from '../src/services/batches.js';
import { reconcile } from '../src/services/ledger.js';
import { currentPoolThreshold, updatePrices } from '../src/services/cryptos.js';
import { approveHeldOrder } from '../src/services/reviews.js';
import { createActivities } from '../src/activities/index.js';
import { DataError } from '../src/domain/errors.js';
import { fraudConfig, loadEnv } from '../src/config/env.js';
import type { Fill } from '../src/exchange/exchange.js';

// Service level, real Postgres: completions with synthetic fills (a Fill is plain data), the house
// entries they write, and what the reconciliation finds. BTC is quoted at 50000.00.

let db: TestDatabase;
let userId: number;
const em = () => db.orm.em.fork();
const run = <T>(query: string, params: unknown[] = []) => em().execute<T[]>(query, params);
const one = async <T>(query: string, params: unknown[] = []) => (await run<T>(query, params))[0]!;

const debitOptions = {
  threshold: 1000n,
  maxTotal: 100_000_000n,
  fraud: fraudConfig(loadEnv({ FRAUD_ENABLED: 'false' })),
};

beforeAll(async () => {
  db = await createTestDatabase();
  await sqlOf(em())
    .insertInto('crypto_currencies')
    .values([
      { name: 'BTC', price: '50000.00' },
      { name: 'ETH', price: '3000.00' },
    ])
    .execute();
  userId = (await createAccount(em(), { username: 'buyer', passwordHash: 'unused', role: 'user' }))!;
  await deposit(em(), userId, 10_000_000n);
});
afterAll(async () => db?.drop());

async function placeOrder(amount: string, crypto = 'BTC'): Promise<number> {
  const { id } = await one<{ id: string }>("select nextval('orders_id_seq') as id");
  const orderId = Number(id);
  await debitOrder(em(), { orderId, userId, crypto, amount }, debitOptions);
  return orderId;
}

const fillFor = (clientOrderId: string, patch: Partial<Fill> = {}): Fill => ({
  exchangeOrderId: `ex-${clientOrderId}`,
  clientOrderId,
  crypto: 'BTC',
  symbol: 'BTC/USDT',
  quoteSpent: '12.00000000',
  quantity: '0.00024000',
  averagePrice: '50000.00000000',
  commission: '0',
  commissionAsset: 'BTC',
  ...patch,
});

const purchaseRow = async (clientOrderId: string) =>
  (
    await run<Record<string, string | null>>(
      `select client_order_id, order_id::text, batch_id, symbol, exchange_order_id, quote_asked::text,
              quote_spent::text, quantity::text, average_price::text, commission::text, commission_asset
         from exchange_purchases where client_order_id = ?`,
      [clientOrderId],
    )
  )[0];

const entriesOf = async (clientOrderId: string) =>
  (
    await run<{ kind: string; asset: string; amount: string; quantity: string | null }>(
      `select kind, asset, amount::text, quantity::text from house_entries where purchase_id = ? order by id`,
      [clientOrderId],
    )
  ).map((e) => [e.kind, e.asset, e.amount, e.quantity]);

const orderState = async (orderId: number) =>
  (
    await run<{ state: string; exchange_order_id: string | null }>(
      'select state, exchange_order_id from orders where id = ?',
      [orderId],
    )
  )[0];

const failuresOf = async (purchase: string) =>
  (await reconcile(em())).house.failures.filter((f) => f.purchase === purchase);

describe('an order bought alone', () => {
  it('records the fill and the house entries with the completion: rounding dust, commission in the crypto', async () => {
    const orderId = await placeOrder('0.00024'); // $12.00
    const id = `order-${orderId}`;
    await completeOrder(
      em(),
      orderId,
      fillFor(id, { quoteSpent: '11.99950000', quantity: '0.00023999', commission: '0.00000024' }),
    );
    expect(await orderState(orderId)).toEqual({ state: 'completed', exchange_order_id: `ex-${id}` });
    expect(await purchaseRow(id)).toEqual({
      client_order_id: id,
      order_id: String(orderId),
      batch_id: null,
      symbol: 'BTC/USDT',
      exchange_order_id: `ex-${id}`,
      quote_asked: '12.00',
      quote_spent: '11.99950000',
      quantity: '0.00023999',
      average_price: '50000.00000000',
      commission: '0.00000024',
      commission_asset: 'BTC',
    });
    expect(await entriesOf(id)).toEqual([
      ['unspent_quote', 'USDT', '0.00050000', null],
      ['fee', 'BTC', '-0.01200000', '-0.00000024'],
      ['crypto_difference', 'BTC', '-0.00050000', '-0.00000001'],
    ]);
    expect(await failuresOf(id)).toEqual([]);
  });

  it('price moved: a shortfall the house covers, a surplus it keeps', async () => {
    const up = await placeOrder('0.00024');
    await completeOrder(
      em(),
      up,
      fillFor(`order-${up}`, { quantity: '0.00023076', averagePrice: '52001.38672213' }),
    );
    expect(await entriesOf(`order-${up}`)).toEqual([
      ['crypto_difference', 'BTC', '-0.48049281', '-0.00000924'],
    ]);
    const down = await placeOrder('0.00024');
    await completeOrder(
      em(),
      down,
      fillFor(`order-${down}`, { quantity: '0.00025000', averagePrice: '48000.00000000' }),
    );
    expect(await entriesOf(`order-${down}`)).toEqual([
      ['crypto_difference', 'BTC', '0.48000000', '0.00001000'],
    ]);
    expect([...(await failuresOf(`order-${up}`)), ...(await failuresOf(`order-${down}`))]).toEqual([]);
  });

  it('commission in the quote asset is cash; in another asset an unvalued fee', async () => {
    const quote = await placeOrder('0.00024');
    await completeOrder(
      em(),
      quote,
      fillFor(`order-${quote}`, {
        quoteSpent: '11.99000000',
        commission: '0.01199000',
        commissionAsset: 'USDT',
      }),
    );
    expect(await entriesOf(`order-${quote}`)).toEqual([
      ['unspent_quote', 'USDT', '0.01000000', null],
      ['fee', 'USDT', '-0.01199000', null],
    ]);
    const bnb = await placeOrder('0.00024');
    await completeOrder(
      em(),
      bnb,
      fillFor(`order-${bnb}`, { commission: '0.00001800', commissionAsset: 'BNB' }),
    );
    expect(await entriesOf(`order-${bnb}`)).toEqual([['fee', 'BNB', '0.00000000', '-0.00001800']]);
    const result = await reconcile(em());
    expect(
      result.house.failures.filter((f) => [`order-${quote}`, `order-${bnb}`].includes(f.purchase)),
    ).toEqual([]);
    expect(result.house.unvalued_fees).toContainEqual({
      purchase: `order-${bnb}`,
      asset: 'BNB',
      quantity: '-0.00001800',
    });
    expect(result.house.positions).toContainEqual({ asset: 'BNB', quantity: '-0.00001800' });
  });

  it('a retried completion writes nothing twice, also when the retries race', async () => {
    const orderId = await placeOrder('0.00024');
    const fill = fillFor(`order-${orderId}`, { quantity: '0.00024100' });
    await Promise.all([1, 2, 3].map(() => completeOrder(em(), orderId, fill)));
    await completeOrder(em(), orderId, fill);
    expect(await entriesOf(`order-${orderId}`)).toEqual([
      ['crypto_difference', 'BTC', '0.05000000', '0.00000100'],
    ]);
    const { n } = await one<{ n: string }>(
      'select count(*)::text as n from exchange_purchases where order_id = ?',
      [orderId],
    );
    expect(n).toBe('1');
  });

  it('a fill for an unknown order or a refunded one changes nothing', async () => {
    const before = await run('select count(*)::text as n from exchange_purchases');
    await expect(completeOrder(em(), 9_007_199_254_740, fillFor('order-9007199254740'))).rejects.toThrow(
      DataError,
    );
    const refunded = await placeOrder('0.00024');
    await refundOrder(em(), refunded, 'the exchange could not be reached');
    const balance = await getBalance(em(), userId);
    await expect(completeOrder(em(), refunded, fillFor(`order-${refunded}`))).rejects.toThrow(
      /which is failed/,
    );
    expect(await orderState(refunded)).toEqual({ state: 'failed', exchange_order_id: null });
    expect(await getBalance(em(), userId)).toBe(balance);
    expect(await run('select count(*)::text as n from exchange_purchases')).toEqual(before);
    expect((await reconcile(em())).mismatches).toEqual([]);
  });

  it('a malformed fill is a permanent activity failure and writes nothing', async () => {
    const activities = createActivities({
      orm: db.orm,
      exchange: undefined as never,
      temporal: undefined as never,
      taskQueue: 'unused',
      aggregationThreshold: 1000n,
      aggregationMaxWaitMs: 60_000,
      maxOrderTotal: 100_000_000n,
      fraud: debitOptions.fraud,
      reviewTimeoutMs: 60_000,
    });
    const orderId = await placeOrder('0.00024');
    const malformed = fillFor(`order-${orderId}`, { quantity: '0.000240001' });
    const failure = await activities.completeOrder(orderId, malformed).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'UnexpectedData', nonRetryable: true });
    expect((failure as Error).message).toMatch(/quantity/);
    const wrongOrder = fillFor(`order-${orderId + 1}`);
    await expect(activities.completeOrder(orderId, wrongOrder)).rejects.toMatchObject({ nonRetryable: true });
    expect(await orderState(orderId)).toEqual({ state: 'pending', exchange_order_id: null });
    expect(await purchaseRow(`order-${orderId}`)).toBeUndefined();
  });
});

describe('a batch', () => {
  it('records the house top-up and the surplus its top-up bought', async () => {
    const orders = [await placeOrder('0.00006'), await placeOrder('0.00008')]; // $3 + $4
    const batch = await openBatch(em(), 'BTC-1-house', 'BTC', orders, 1000n);
    expect(batch).toMatchObject({ ordersTotal: '7.00', houseTopUp: '3.00', notional: '10.00' });
    await completeBatch(
      em(),
      'BTC-1-house',
      fillFor('BTC-1-house', { quoteSpent: '9.99990000', quantity: '0.00019999', commission: '0.00000020' }),
    );
    expect(await entriesOf('BTC-1-house')).toEqual([
      ['top_up', 'USDT', '-3.00000000', null],
      ['unspent_quote', 'USDT', '0.00010000', null],
      ['fee', 'BTC', '-0.01000000', '-0.00000020'],
      ['crypto_difference', 'BTC', '2.99950000', '0.00005999'],
    ]);
    expect(await purchaseRow('BTC-1-house')).toMatchObject({ order_id: null, quote_asked: '10.00' });
    for (const id of orders) expect((await orderState(id))!.state).toBe('completed');
    const [b] = await run<{ state: string; filled_quantity: string }>(
      "select state, filled_quantity::text from batches where id = 'BTC-1-house'",
    );
    expect(b).toEqual({ state: 'completed', filled_quantity: '0.00019999' });
    // Retried: nothing more.
    await completeBatch(em(), 'BTC-1-house', fillFor('BTC-1-house', { quantity: '0.00019999' }));
    expect(await entriesOf('BTC-1-house')).toHaveLength(4);
    expect(await failuresOf('BTC-1-house')).toEqual([]);
  });

  it('opened again with more orders, keeps the ones it holds and names those still waiting', async () => {
    const orders = [await placeOrder('0.00006'), await placeOrder('0.00008'), await placeOrder('0.00006')];
    const first = await openBatch(em(), 'BTC-2-again', 'BTC', orders.slice(0, 2), 1000n);
    expect(first).toMatchObject({ orderIds: orders.slice(0, 2), ordersTotal: '7.00', waiting: [] });
    // A third order claimed elsewhere meanwhile is not waiting any more.
    const other = await placeOrder('0.00006');
    await openBatch(em(), 'BTC-3-other', 'BTC', [other], 1000n);
    const again = await openBatch(em(), 'BTC-2-again', 'BTC', [...orders, other], 1000n);
    expect(again).toEqual({ ...first, waiting: [orders[2]] });
    expect(await run("select count(*)::int as n from orders where batch_id = 'BTC-2-again'")).toEqual([
      { n: 2 },
    ]);
  });

  it('a fill for an unknown batch is refused', async () => {
    await expect(completeBatch(em(), 'BTC-9-nothing', fillFor('BTC-9-nothing'))).rejects.toThrow(DataError);
  });
});

describe('the market minimum', () => {
  it('the refresh copies each market minimum, also for a pinned price', async () => {
    await run("update crypto_currencies set price = 3100.00, price_source = 'manual' where name = 'ETH'");
    const changed = await updatePrices(em(), [
      { crypto: 'BTC', symbol: 'BTC/USDT', price: '50000.00', minNotional: '5.00' },
      { crypto: 'ETH', symbol: 'ETH/USDT', price: '2900.00', minNotional: '15.00' },
      { crypto: 'DOGE', symbol: 'DOGE/USDT', price: '0.10', minNotional: '1.00' },
    ]);
    expect(changed).toBe(0);
    expect(
      await run('select name, price::text, min_notional::text from crypto_currencies order by name'),
    ).toEqual([
      { name: 'BTC', price: '50000.00', min_notional: '5.00' },
      { name: 'ETH', price: '3100.00', min_notional: '15.00' },
    ]);
    expect(await currentPoolThreshold(em(), 'BTC', 1000n)).toBe(1000n);
    expect(await currentPoolThreshold(em(), 'ETH', 1000n)).toBe(1500n);
    await expect(
      updatePrices(em(), [{ crypto: 'BTC', symbol: 'BTC/USDT', price: '50000.00', minNotional: '-1' }]),
    ).rejects.toThrow(/minNotional/);
  });

  it('with a 15.00 minimum a $12 order is pooled, and its batch is topped up to 15.00', async () => {
    const orderId = await placeOrder('0.004', 'ETH'); // 0.004 × 3100.00 = $12.40
    expect((await orderState(orderId))!.state).toBe('aggregated');
    // A flush after the max wait: the batch holds less than the minimum.
    const batch = await openBatch(em(), 'ETH-1-min', 'ETH', [orderId], 1000n);
    expect(batch).toMatchObject({ ordersTotal: '12.40', houseTopUp: '2.60', notional: '15.00' });
    // The same order total on BTC (no higher minimum) is bought alone.
    const alone = await placeOrder('0.000248', 'BTC');
    expect((await orderState(alone))!.state).toBe('pending');
  });

  it('an approved hold of $12.40 on the 15.00 market is pooled', async () => {
    const holding = {
      ...debitOptions,
      fraud: fraudConfig(loadEnv({ FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '10.00' })),
    };
    const { id } = await one<{ id: string }>("select nextval('orders_id_seq') as id");
    const held = await debitOrder(
      em(),
      { orderId: Number(id), userId, crypto: 'ETH', amount: '0.004' },
      holding,
    );
    expect(held.route).toBe('review');
    const reviewer = (await createAccount(em(), {
      username: 'reviewer',
      passwordHash: 'unused',
      role: 'admin',
    }))!;
    const approved = await approveHeldOrder(em(), Number(id), reviewer, 1000n);
    expect(approved).toMatchObject({ route: 'pool', order: { state: 'aggregated' } });
  });
});

describe('the reconciliation', () => {
  it('is clean for every purchase recorded above and reports the house', async () => {
    const { house } = await reconcile(em());
    expect(house.failures).toEqual([]);
    expect(house.purchases).toBeGreaterThan(5);
    expect(house.balance).toMatch(/^-?\d+\.\d{8}$/);
    expect(house.positions.map((p) => p.asset)).toEqual(['BNB', 'BTC']);
  });

  it('refuses to change or delete a recorded purchase or entry', async () => {
    await expect(run('update exchange_purchases set quantity = 1')).rejects.toThrow(/append-only/);
    await expect(run('delete from house_entries')).rejects.toThrow(/house_entries is append-only/);
  });

  it('finds a completed order with no recorded purchase', async () => {
    const { id } = await one<{ id: string }>(
      `insert into orders (user_id, crypto_id, amount, price, total_price, state)
       select ?, id, 0.0002, 50000.00, 10.00, 'completed' from crypto_currencies where name = 'BTC'
       returning id::text`,
      [userId],
    );
    const failures = await failuresOf(`order-${id}`);
    expect(failures).toEqual([
      {
        purchase: `order-${id}`,
        order_id: null,
        check: 'purchase_recorded',
        expected: 'a row in exchange_purchases',
        actual: 'none',
      },
      {
        purchase: `order-${id}`,
        order_id: Number(id),
        check: 'order_in_one_purchase',
        expected: '1 recorded purchase',
        actual: '0 recorded purchases',
      },
    ]);
  });

  it('finds an order slipped into a completed batch: both identities break', async () => {
    await run(
      `insert into orders (user_id, crypto_id, amount, price, total_price, state, batch_id)
       select ?, id, 0.00002, 50000.00, 1.00, 'completed', 'BTC-1-house' from crypto_currencies where name = 'BTC'`,
      [userId],
    );
    expect(await failuresOf('BTC-1-house')).toEqual([
      {
        purchase: 'BTC-1-house',
        order_id: null,
        check: 'cash_identity',
        expected: '8.00000000',
        actual: '7.00000000',
      },
      {
        purchase: 'BTC-1-house',
        order_id: null,
        check: 'crypto_identity',
        expected: '0.00019979',
        actual: '0.00021979',
      },
    ]);
  });

  it('finds a house entry added to a purchase, and a fill that spent more than asked', async () => {
    const orderId = await placeOrder('0.00024');
    const id = `order-${orderId}`;
    await completeOrder(em(), orderId, fillFor(id, { quoteSpent: '12.00000001' }));
    expect(await failuresOf(id)).toEqual([
      {
        purchase: id,
        order_id: null,
        check: 'quote_spent_within_asked',
        expected: 'at most 12.00000000',
        actual: '12.00000001',
      },
    ]);
    await run(
      "insert into house_entries (purchase_id, kind, asset, amount) values (?, 'top_up', 'USDT', -1.00)",
      [id],
    );
    expect((await failuresOf(id)).map((f) => [f.check, f.expected, f.actual])).toEqual([
      ['cash_identity', '12.00000000', '11.00000000'],
      ['quote_spent_within_asked', 'at most 12.00000000', '12.00000001'],
    ]);
  });
});
