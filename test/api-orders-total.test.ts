import { reconcile } from '../src/services/ledger.js';
import { ADMIN, balanceOf, eventually, fundedUser, login, startApi, type TestApi } from './support/api.js';

let api: TestApi;
let admin: string;
beforeAll(async () => {
  api = await startApi({ worker: true });
  admin = await login(api, ADMIN.username, ADMIN.password);
});
afterAll(async () => api?.close());

const buy = (token: string, body: unknown, headers?: Record<string, string>) =>
  api.call('POST', 'orders/', { token, body, headers });
const pin = async (crypto: string, price: string) => {
  const res = await api.call('PATCH', `admin/crypto-currencies/${crypto}/`, {
    token: admin,
    body: { price },
  });
  expect(res.status).toBe(200);
};
const cents = (usd: string) => BigInt(usd.replace('.', ''));

describe('orders in dollars', () => {
  it('$25 of ABAN at 4.00: 6.25 ABAN for exactly 25.00, debited once and bought', async () => {
    const user = await fundedUser(api, '100.00');
    const res = await buy(user.access, { crypto: 'ABAN', total: '25.00' });
    expect(res).toMatchObject({
      status: 201,
      body: { crypto: 'ABAN', amount: '6.25000000', price: '4.00', total_price: '25.00' },
    });
    expect(await balanceOf(api, user.access)).toBe('75.00');
    const ledger = await api.call('GET', 'transactions/', { token: user.access });
    expect(ledger.body.results[0]).toMatchObject({
      type: 'withdrawal',
      amount: '25.00',
      order_id: res.body.id,
    });
    await eventually(
      () => api.call('GET', `orders/${res.body.id}/`, { token: user.access }),
      (r) => r.body.state === 'completed',
    );
  });

  it('a total as a JSON number works like the string', async () => {
    const user = await fundedUser(api, '100.00');
    const res = await buy(user.access, { crypto: 'btc', total: 25 });
    expect(res).toMatchObject({
      status: 201,
      body: { crypto: 'BTC', amount: '0.00050000', price: '50000.00', total_price: '25.00' },
    });
  });

  it('under $10 the order is pooled as before', async () => {
    const user = await fundedUser(api, '100.00');
    const res = await buy(user.access, { crypto: 'ETH', total: '3.00' });
    expect(res).toMatchObject({
      status: 201,
      body: { amount: '0.00100000', total_price: '3.00', state: 'aggregated' },
    });
    expect(await balanceOf(api, user.access)).toBe('97.00');
  });

  // Prices where 10⁻⁸ costs more than half a cent, so the rounding can show in the debit
  // (777777.77: $10.00 buys 0.00001285 for 9.99).
  it.each([
    ['777777.77', '10.00'],
    ['987654.32', '25.00'],
    ['555555.55', '12.34'],
  ])(
    'at a pinned %s, a total of %s is never exceeded, and the debit is the order total',
    async (price, total) => {
      await pin('BTC', price);
      try {
        const user = await fundedUser(api, '100.00');
        const res = await buy(user.access, { crypto: 'BTC', total });
        expect(res.status).toBe(201);
        expect(res.body.price).toBe(price);
        // amount = total ÷ price rounded down; total_price = round_half_up(amount × price, 2).
        const units = (cents(total) * 100_000_000n) / cents(price);
        expect(BigInt(res.body.amount.replace('.', ''))).toBe(units);
        const exact = units * cents(price);
        const expected = exact / 100_000_000n + ((exact % 100_000_000n) * 2n >= 100_000_000n ? 1n : 0n);
        expect(cents(res.body.total_price)).toBe(expected);
        expect(cents(res.body.total_price)).toBeLessThanOrEqual(cents(total));
        expect(cents('100.00') - cents(await balanceOf(api, user.access))).toBe(cents(res.body.total_price));
      } finally {
        await pin('BTC', '50000.00');
      }
    },
  );

  it.each([
    [{ crypto: 'ABAN', amount: 1, total: '4.00' }, 'validation_error'],
    [{ crypto: 'ABAN' }, 'validation_error'],
    [{ total: '4.00' }, 'validation_error'],
    [{ crypto: 'ABAN', total: '4.001' }, 'validation_error'],
    [{ crypto: 'ABAN', total: '-4' }, 'validation_error'],
    [{ crypto: 'ABAN', total: 0 }, 'validation_error'],
    [{ crypto: 'ABAN', total: '1e2' }, 'validation_error'],
    [{ crypto: 'ABAN', total: '1000000.01' }, 'total_too_large'],
    [{ crypto: 'NOPE', total: '10.00' }, 'unknown_crypto'],
  ])('refuses %j with 400 %s, moving no money', async (body, code) => {
    const user = await fundedUser(api, '50.00');
    const res = await buy(user.access, body);
    expect(res).toMatchObject({ status: 400, body: { error: { code } } });
    expect(typeof res.body.error.message).toBe('string');
    expect(await balanceOf(api, user.access)).toBe('50.00');
    expect((await api.call('GET', 'orders/', { token: user.access })).body.results).toEqual([]);
  });

  it('says what is wrong with the body', async () => {
    const user = await fundedUser(api, '50.00');
    const both = await buy(user.access, { crypto: 'ABAN', amount: 1, total: '4.00' });
    expect(both.body.error.message).toBe(
      'body.total: give exactly one of `amount` (crypto) or `total` (USD)',
    );
    const neither = await buy(user.access, { crypto: 'ABAN' });
    expect(neither.body.error.message).toBe('body: give exactly one of `amount` (crypto) or `total` (USD)');
    const nothing = await buy(user.access, {});
    expect(nothing.body.error.message).toContain('body.crypto: required (or give `quote_id` alone)');
  });

  it('insufficient funds: 422, nothing charged', async () => {
    const user = await fundedUser(api, '5.00');
    const res = await buy(user.access, { crypto: 'ABAN', total: '12.00' });
    expect(res).toMatchObject({ status: 422, body: { error: { code: 'insufficient_funds' } } });
    expect(await balanceOf(api, user.access)).toBe('5.00');
  });

  it('Idempotency-Key: the same total replays the order; the key with an amount instead is 409', async () => {
    const user = await fundedUser(api, '100.00');
    const headers = { 'idempotency-key': 'total-key-1' };
    const first = await buy(user.access, { crypto: 'ABAN', total: '12.00' }, headers);
    // The price moves between the two: the replay is the first answer, not a new pricing.
    await pin('ABAN', '5.00');
    try {
      const again = await buy(user.access, { crypto: 'ABAN', total: 12 }, headers);
      expect(first.status).toBe(201);
      expect(again).toMatchObject({ status: 201, body: first.body });
      const other = await buy(user.access, { crypto: 'ABAN', amount: 3 }, headers);
      expect(other).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });
      const otherTotal = await buy(user.access, { crypto: 'ABAN', total: '12.01' }, headers);
      expect(otherTotal).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });
    } finally {
      await pin('ABAN', '4.00');
    }
    expect(await balanceOf(api, user.access)).toBe('88.00');
    expect((await reconcile(api.db.orm.em.fork())).mismatches).toEqual([]);
  });
});
