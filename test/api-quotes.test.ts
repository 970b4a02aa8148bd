import { randomUUID } from 'node:crypto';
import { reconcile } from '../src/services/ledger.js';
import { debitOrder } from '../src/services/orders.js';
import { nextOrderId } from '../src/services/idempotency.js';
import { fraudConfig } from '../src/config/env.js';
import {
  ADMIN,
  apisPerFile,
  balanceOf,
  eventually,
  fundedUser,
  login,
  newUser,
  runWorker,
  startApi,
  type TestApi,
} from './support/api.js';
import { simulatorExchange, startSimulator } from './support/pipeline.js';

let api: TestApi;
let admin: string;
beforeAll(async () => {
  api = await startApi({ worker: true });
  admin = await login(api, ADMIN.username, ADMIN.password);
});
afterAll(async () => api?.close());
const otherApi = apisPerFile();

const quote = (token: string, body: unknown, on = api) => on.call('POST', 'quotes/', { token, body });
const buy = (token: string, body: unknown, headers?: Record<string, string>, on = api) =>
  on.call('POST', 'orders/', { token, body, headers });
const pin = async (crypto: string, price: string, on = api, token = admin) => {
  const res = await on.call('PATCH', `admin/crypto-currencies/${crypto}/`, { token, body: { price } });
  expect(res.status).toBe(200);
};
const userIdOf = async (on: TestApi, username: string): Promise<number> => {
  const [row] = await on.db.orm.em
    .fork()
    .execute<{ id: number }[]>('select id from users where username = ?', [username]);
  return row!.id;
};
const quoteRow = async (id: string) => {
  const [row] = await api.db.orm.em
    .fork()
    .execute<{ used_by_order_id: string | null }[]>('select used_by_order_id from quotes where id = ?', [id]);
  return row!;
};

describe('POST quotes/', () => {
  it('quotes a quantity and a USD total at the current price, moving no money', async () => {
    const user = await fundedUser(api, '50.00');
    const before = Date.now();
    const byAmount = await quote(user.access, { crypto: 'aban', amount: 3 });
    expect(byAmount).toMatchObject({
      status: 201,
      body: { crypto: 'ABAN', amount: '3.00000000', price: '4.00', total_price: '12.00' },
    });
    expect(byAmount.body.id).toMatch(/^[0-9a-f-]{36}$/);
    // Valid for QUOTE_TTL (30s by default), by the database's clock.
    const ttl = Date.parse(byAmount.body.expires_at) - before;
    expect(ttl).toBeGreaterThan(20_000);
    expect(ttl).toBeLessThan(40_000);
    const byTotal = await quote(user.access, { crypto: 'ETH', total: '10.00' });
    expect(byTotal).toMatchObject({
      status: 201,
      body: { crypto: 'ETH', amount: '0.00333333', price: '3000.00', total_price: '10.00' },
    });
    expect(await balanceOf(api, user.access)).toBe('50.00');
    expect((await api.call('GET', 'orders/', { token: user.access })).body.results).toEqual([]);
    expect((await api.call('GET', 'transactions/', { token: user.access })).body.results).toHaveLength(1);
  });

  it.each([
    [{ crypto: 'ABAN' }, 400, 'validation_error'],
    [{ crypto: 'ABAN', amount: 1, total: '4.00' }, 400, 'validation_error'],
    [{ amount: 1 }, 400, 'validation_error'],
    [{ crypto: 'ABAN', amount: 1, quote_id: randomUUID() }, 400, 'validation_error'],
    [{ crypto: 'ABAN', total: '0.001' }, 400, 'validation_error'],
    [{ crypto: 'NOPE', amount: 1 }, 400, 'unknown_crypto'],
    [{ crypto: 'BTC', amount: '0.00000001' }, 400, 'total_too_small'],
    [{ crypto: 'ABAN', total: '1000000.01' }, 400, 'total_too_large'],
  ])('refuses %j with %i %s', async (body, status, code) => {
    const user = await newUser(api);
    const res = await quote(user.access, body);
    expect(res).toMatchObject({ status, body: { error: { code } } });
    expect(res.body.error.message).toEqual(expect.any(String));
  });

  it('needs a token', async () => {
    expect((await quote('', { crypto: 'ABAN', amount: 1 })).status).toBe(401);
  });
});

describe('POST orders/ {quote_id}', () => {
  it('is placed at the quoted price after the market moved, and the quote is used once', async () => {
    const user = await fundedUser(api, '100.00');
    const q = await quote(user.access, { crypto: 'ABAN', amount: 3 });
    await pin('ABAN', '5.00');
    try {
      const placed = await buy(user.access, { quote_id: q.body.id });
      expect(placed).toMatchObject({
        status: 201,
        body: { crypto: 'ABAN', amount: '3.00000000', price: '4.00', total_price: '12.00' },
      });
      expect(await balanceOf(api, user.access)).toBe('88.00');
      // The market price is 5.00 now: the same quantity without the quote costs 15.00.
      const market = await buy(user.access, { crypto: 'ABAN', amount: 3 });
      expect(market).toMatchObject({ status: 201, body: { price: '5.00', total_price: '15.00' } });
      expect(await balanceOf(api, user.access)).toBe('73.00');

      const again = await buy(user.access, { quote_id: q.body.id });
      expect(again).toMatchObject({ status: 409, body: { error: { code: 'quote_used' } } });
      expect(await balanceOf(api, user.access)).toBe('73.00');
      expect(await quoteRow(q.body.id)).toEqual({ used_by_order_id: String(placed.body.id) });
      await eventually(
        () => api.call('GET', `orders/${placed.body.id}/`, { token: user.access }),
        (r) => r.body.state === 'completed',
      );
    } finally {
      await pin('ABAN', '4.00');
    }
  });

  it('a quote for a USD total places an order for exactly that quantity and total', async () => {
    const user = await fundedUser(api, '100.00');
    const q = await quote(user.access, { crypto: 'BTC', total: '25.00' });
    const placed = await buy(user.access, { quote_id: q.body.id });
    expect(placed).toMatchObject({
      status: 201,
      body: { amount: q.body.amount, price: q.body.price, total_price: q.body.total_price },
    });
    expect(await balanceOf(api, user.access)).toBe('75.00');
  });

  it('replaying the same Idempotency-Key answers the first 201 again; a new key is 409', async () => {
    const user = await fundedUser(api, '100.00');
    const q = await quote(user.access, { crypto: 'ABAN', amount: '2.5' });
    const headers = { 'idempotency-key': `quote-${q.body.id}` };
    const first = await buy(user.access, { quote_id: q.body.id }, headers);
    expect(first).toMatchObject({ status: 201, body: { total_price: '10.00' } });
    const replay = await buy(user.access, { quote_id: q.body.id }, headers);
    expect(replay).toMatchObject({ status: 201, body: first.body });
    const other = await buy(user.access, { quote_id: q.body.id }, { 'idempotency-key': 'another-key' });
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'quote_used' } } });
    // The key is bound to its quote: another quote under it is a different request.
    const q2 = await quote(user.access, { crypto: 'ABAN', amount: 1 });
    const reused = await buy(user.access, { quote_id: q2.body.id }, headers);
    expect(reused).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });
    expect(await balanceOf(api, user.access)).toBe('90.00');
  });

  it("another user's quote and an unknown one are 404; a malformed id or extra fields 400", async () => {
    const owner = await fundedUser(api, '100.00');
    const thief = await fundedUser(api, '100.00');
    const q = await quote(owner.access, { crypto: 'ABAN', amount: 3 });
    expect(await buy(thief.access, { quote_id: q.body.id })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await buy(thief.access, { quote_id: randomUUID() })).toMatchObject({ status: 404 });
    expect(await buy(thief.access, { quote_id: 'not-a-uuid' })).toMatchObject({
      status: 400,
      body: { error: { code: 'validation_error' } },
    });
    expect(await buy(owner.access, { quote_id: q.body.id, crypto: 'ABAN' })).toMatchObject({ status: 400 });
    expect(await buy(owner.access, { quote_id: q.body.id, amount: 3 })).toMatchObject({ status: 400 });
    expect(await balanceOf(api, thief.access)).toBe('100.00');
    expect(await balanceOf(api, owner.access)).toBe('100.00');
    expect(await quoteRow(q.body.id)).toEqual({ used_by_order_id: null });
    // Still the owner's to use.
    expect((await buy(owner.access, { quote_id: q.body.id })).status).toBe(201);
  });

  it('insufficient funds: 422, and the quote stays unused', async () => {
    const user = await fundedUser(api, '5.00');
    const q = await quote(user.access, { crypto: 'ABAN', amount: 3 });
    expect(await buy(user.access, { quote_id: q.body.id })).toMatchObject({
      status: 422,
      body: { error: { code: 'insufficient_funds' } },
    });
    expect(await quoteRow(q.body.id)).toEqual({ used_by_order_id: null });
    await api.call('PATCH', 'accounts/wallet/deposit/', { token: user.access, body: { amount: '10.00' } });
    expect((await buy(user.access, { quote_id: q.body.id })).status).toBe(201);
    expect(await balanceOf(api, user.access)).toBe('3.00');
  });

  it('two orders racing for one quote: one is placed, the other 409, debited once (every round)', async () => {
    for (let round = 0; round < 5; round++) {
      const user = await fundedUser(api, '100.00');
      const q = await quote(user.access, { crypto: 'ABAN', amount: 3 });
      const results = await Promise.all([
        buy(user.access, { quote_id: q.body.id }),
        buy(user.access, { quote_id: q.body.id }),
      ]);
      // A debit slower than PLACEMENT_TIMEOUT answers 202: followed to its outcome.
      const outcomes = await Promise.all(
        results.map(async (r) => {
          if (r.status !== 202) return r.status === 201 ? 'placed' : r.body.error.code;
          const final = await eventually(
            () => api.call('GET', `orders/${r.body.id}/`, { token: user.access }),
            (g) => g.body.state !== 'placing',
          );
          return final.body.state === 'rejected' ? final.body.failure_code : 'placed';
        }),
      );
      expect(outcomes.sort()).toEqual(['placed', 'quote_used']);
      expect(await balanceOf(api, user.access)).toBe('88.00');
    }
    expect((await reconcile(api.db.orm.em.fork())).mismatches).toEqual([]);
  });

  it('two debits racing for one quote in the database: exactly one commits', async () => {
    const user = await fundedUser(api, '100.00');
    const userId = await userIdOf(api, user.username);
    const q = await quote(user.access, { crypto: 'ABAN', amount: 3 });
    const options = { threshold: 1000n, maxTotal: api.env.MAX_AMOUNT, fraud: fraudConfig(api.env) };
    const debit = async () => {
      const orderId = await nextOrderId(api.db.orm.em.fork());
      const input = {
        orderId,
        userId,
        crypto: 'ABAN',
        amount: '3.00000000',
        price: '4.00',
        quoteId: q.body.id,
      };
      return debitOrder(api.db.orm.em.fork(), input, options).then(
        (placed) => ({ placed: placed.order.id }),
        (error: { code?: string }) => ({ refused: error.code }),
      );
    };
    const outcomes = await Promise.all([debit(), debit(), debit()]);
    expect(outcomes.filter((o) => 'placed' in o)).toHaveLength(1);
    expect(outcomes.filter((o) => 'refused' in o)).toEqual([
      { refused: 'quote_used' },
      { refused: 'quote_used' },
    ]);
    const winner = outcomes.find((o) => 'placed' in o) as { placed: number };
    expect(await quoteRow(q.body.id)).toEqual({ used_by_order_id: String(winner.placed) });
    expect(await balanceOf(api, user.access)).toBe('88.00');
  });

  it('support sees every quote with who asked and which order used it (admin only)', async () => {
    const user = await fundedUser(api, '100.00');
    const userId = await userIdOf(api, user.username);
    const used = await quote(user.access, { crypto: 'ETH', total: '6.00' });
    const placed = await buy(user.access, { quote_id: used.body.id });
    const unused = await quote(user.access, { crypto: 'ABAN', amount: 1 });
    const list = await api.call('GET', `admin/quotes/?user_id=${userId}&limit=1`, { token: admin });
    expect(list.status).toBe(200);
    expect(list.body.results).toEqual([
      {
        ...unused.body,
        user_id: userId,
        requested_total: null,
        created_at: expect.any(String),
        used_by_order_id: null,
      },
    ]);
    const next = await api.call('GET', `admin/quotes/?user_id=${userId}&cursor=${list.body.next_cursor}`, {
      token: admin,
    });
    expect(next.body).toEqual({
      results: [
        {
          ...used.body,
          user_id: userId,
          requested_total: '6.00',
          created_at: expect.any(String),
          used_by_order_id: placed.body.id,
        },
      ],
      next_cursor: null,
    });
    expect((await api.call('GET', 'admin/quotes/', { token: user.access })).status).toBe(403);
    expect((await api.call('GET', 'admin/quotes/')).status).toBe(401);
    expect((await api.call('GET', 'admin/quotes/?user_id=abc', { token: admin })).status).toBe(400);
  });
});

describe('quote expiry and prices carried to the debit', () => {
  it('an expired quote is 422 quote_expired, nothing charged (QUOTE_TTL=1s)', async () => {
    const short = await otherApi({ QUOTE_TTL: '1s' });
    const user = await fundedUser(short, '100.00');
    const q = await quote(user.access, { crypto: 'ABAN', amount: 3 }, short);
    expect(Date.parse(q.body.expires_at)).toBeLessThan(Date.now() + 5_000);
    await new Promise((r) => setTimeout(r, Date.parse(q.body.expires_at) - Date.now() + 1_500));
    const late = await buy(user.access, { quote_id: q.body.id }, undefined, short);
    expect(late).toMatchObject({ status: 422, body: { error: { code: 'quote_expired' } } });
    expect(await balanceOf(short, user.access)).toBe('100.00');
  });

  it('a quote accepted before it expired is honoured by a debit that runs after, at its price', async () => {
    // No worker: the order is accepted (202) and debited only once a worker starts, after the
    // quote expired and the market moved; a USD total order placed alongside keeps its price too.
    const slow = await startApi({ env: { QUOTE_TTL: '2s', PLACEMENT_TIMEOUT: '300ms' } });
    try {
      const adminToken = await login(slow, ADMIN.username, ADMIN.password);
      const user = await fundedUser(slow, '100.00');
      const q = await quote(user.access, { crypto: 'ABAN', amount: 3 }, slow);
      const byQuote = await buy(user.access, { quote_id: q.body.id }, undefined, slow);
      const byTotal = await buy(user.access, { crypto: 'ABAN', total: '10.00' }, undefined, slow);
      expect(byQuote.status).toBe(202);
      expect(byTotal.status).toBe(202);
      await pin('ABAN', '5.00', slow, adminToken);
      await new Promise((r) => setTimeout(r, Date.parse(q.body.expires_at) - Date.now() + 500));
      const sim = await startSimulator();
      const worker = await runWorker(slow, simulatorExchange(sim.url));
      try {
        const order = (id: number) => slow.call('GET', `orders/${id}/`, { token: user.access });
        const placed = await eventually(
          () => order(byQuote.body.id),
          (r) => r.body.state !== 'placing',
        );
        expect(placed.body).toMatchObject({ price: '4.00', amount: '3.00000000', total_price: '12.00' });
        const total = await eventually(
          () => order(byTotal.body.id),
          (r) => r.body.state !== 'placing',
        );
        expect(total.body).toMatchObject({ price: '4.00', amount: '2.50000000', total_price: '10.00' });
        expect(await balanceOf(slow, user.access)).toBe('78.00');
      } finally {
        await worker.stop();
        await sim.app.close();
      }
    } finally {
      await slow.close();
    }
  });
});

describe('rate limit', () => {
  it('POST quotes/ counts per user under RATE_LIMIT_QUOTES_USER, apart from orders', async () => {
    const limited = await otherApi({ RATE_LIMIT_QUOTES_USER: '2/1h', RATE_LIMIT_ORDERS_USER: '100/1h' });
    const user = await newUser(limited);
    const other = await newUser(limited);
    const ask = (token: string) => quote(token, { crypto: 'ABAN', amount: 1 }, limited);
    expect((await ask(user.access)).status).toBe(201);
    expect((await ask(user.access)).status).toBe(201);
    const third = await ask(user.access);
    expect(third).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await ask(other.access)).status).toBe(201);
  });
});

describe('OpenAPI', () => {
  it('documents quotes, the admin list, and the three order bodies with their statuses', async () => {
    const docs = await otherApi({ DOCS_ENABLED: 'true' });
    const spec = (await docs.call('GET', 'openapi.json')).body;
    const quotes = spec.paths['/api/v1/quotes/'].post;
    expect(Object.keys(quotes.responses)).toEqual(expect.arrayContaining(['201', '400', '401']));
    expect(Object.keys(quotes.requestBody.content['application/json'].schema.properties).sort()).toEqual([
      'amount',
      'crypto',
      'total',
    ]);
    expect(spec.paths['/api/v1/admin/quotes/'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['user_id', 'limit', 'cursor']),
    );
    const orders = spec.paths['/api/v1/orders/'].post;
    expect(Object.keys(orders.requestBody.content['application/json'].schema.properties).sort()).toEqual([
      'amount',
      'crypto',
      'quote_id',
      'total',
    ]);
    expect(Object.keys(orders.responses)).toEqual(
      expect.arrayContaining(['201', '202', '400', '404', '409', '422', '503']),
    );
    expect(orders.description).toContain('quote_expired');
  });
});
