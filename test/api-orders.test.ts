import { reconcile } from '../src/services/ledger.js';
import { readQuantity } from '../src/domain/money.js';
import { eventually, startApi, type TestApi, fundedUser, balanceOf } from './support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ worker: true });
});
afterAll(async () => api?.close());

const buy = (token: string, body: unknown, headers?: Record<string, string>) =>
  api.call('POST', 'orders/', { token, body, headers });
const getOrder = (token: string, id: number) => api.call('GET', `orders/${id}/`, { token });

describe('placing an order', () => {
  it('the README example: 3 ABAN → 201 with total 12.00, later completed', async () => {
    const user = await fundedUser(api, '100.00');
    const res = await buy(user.access, { crypto: 'ABAN', amount: 3 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      crypto: 'ABAN',
      amount: '3.00000000',
      price: '4.00',
      total_price: '12.00',
    });
    expect(['pending', 'completed']).toContain(res.body.state);
    expect(await balanceOf(api, user.access)).toBe('88.00');
    const done = await eventually(
      () => getOrder(user.access, res.body.id),
      (r) => r.body.state === 'completed',
    );
    expect(done.body.total_price).toBe('12.00');
    const holdings = await api.call('GET', 'accounts/holdings/', { token: user.access });
    expect(holdings.body).toEqual([{ crypto: 'ABAN', amount: '3.00000000' }]);
    const ledger = await api.call('GET', 'transactions/', { token: user.access });
    expect(ledger.body.results[0]).toMatchObject({
      type: 'withdrawal',
      amount: '12.00',
      order_id: res.body.id,
    });
    const fills = await api.sim!.fills();
    expect(fills.filter((f) => f.client_order_id === `order-${res.body.id}`)).toHaveLength(1);
  });

  it('422 for insufficient funds and 400 for an unknown crypto, moving no money', async () => {
    const user = await fundedUser(api, '5.00');
    const poor = await buy(user.access, { crypto: 'ABAN', amount: 3 });
    expect(poor).toMatchObject({ status: 422, body: { error: { code: 'insufficient_funds' } } });
    const unknown = await buy(user.access, { crypto: 'NOPE', amount: 1 });
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'unknown_crypto' } } });
    expect(await balanceOf(api, user.access)).toBe('5.00');
    expect((await api.call('GET', 'orders/', { token: user.access })).body.results).toEqual([]);
  });

  it.each([
    [{ crypto: 'ABAN', amount: -1 }],
    [{ crypto: 'ABAN', amount: 0 }],
    [{ crypto: 'ABAN', amount: '1e2' }],
    [{ crypto: 'ABAN', amount: '0.000000001' }],
    [{ crypto: 'ABAN' }],
    [{ amount: 1 }],
    [{ crypto: 'AB AN', amount: 1 }],
    [{ crypto: 'ABAN', amount: 1, state: 'completed' }],
    [{ crypto: 'ABAN', amount: 1, total_price: '0.01' }],
  ])('refuses %j with 400', async (body) => {
    const user = await fundedUser(api, '50.00');
    const res = await buy(user.access, body);
    expect(res.status).toBe(400);
    expect(await balanceOf(api, user.access)).toBe('50.00');
  });

  it('refuses an order whose total rounds below one cent', async () => {
    const user = await fundedUser(api, '50.00');
    const res = await buy(user.access, { crypto: 'BTC', amount: '0.00000001' });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'total_too_small' } } });
    expect(await balanceOf(api, user.access)).toBe('50.00');
  });

  it('40 concurrent $10 orders on $100: exactly 10 placed, the rest refused for funds, balance 0.00', async () => {
    const user = await fundedUser(api, '100.00');
    const results = await Promise.all(
      Array.from({ length: 40 }, () => buy(user.access, { crypto: 'ABAN', amount: '2.5' })),
    );
    // On a loaded machine a debit may answer after PLACEMENT_TIMEOUT: a 202 is followed to its outcome.
    const outcomes = await Promise.all(
      results.map(async (r) => {
        if (r.status !== 202) return r.status === 201 ? 'placed' : `refused ${r.body.error.code}`;
        const final = await eventually(
          () => api.call('GET', `orders/${r.body.id}/`, { token: user.access }),
          (g) => g.body.state !== 'placing',
        );
        return final.body.state === 'rejected' ? `refused ${final.body.failure_code}` : 'placed';
      }),
    );
    expect(outcomes.filter((o) => o === 'placed')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'refused insufficient_funds')).toHaveLength(30);
    expect(await balanceOf(api, user.access)).toBe('0.00');
    expect((await reconcile(api.db.orm.em.fork())).mismatches).toEqual([]);
  });
});

describe('pooling small orders', () => {
  it('ten $3 orders in one crypto: all but a remainder under $10 complete', async () => {
    const user = await fundedUser(api, '30.00');
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await buy(user.access, { crypto: 'ETH', amount: '0.001' });
      expect(res).toMatchObject({ status: 201, body: { total_price: '3.00', state: 'aggregated' } });
      ids.push(res.body.id);
    }
    expect(await balanceOf(api, user.access)).toBe('0.00');
    const states = await eventually(
      async () => Promise.all(ids.map(async (id) => (await getOrder(user.access, id)).body)),
      (orders) => orders.filter((o) => o.state === 'aggregated').length * 3 < 10,
    );
    const waiting = states.filter((o) => o.state === 'aggregated');
    expect(states.filter((o) => o.state === 'completed').length + waiting.length).toBe(10);
    // Every batch was bought once, for at least the $10 minimum, and holds only whole orders.
    const fills = (await api.sim!.fills()).filter((f) => f.crypto === 'ETH');
    const batchIds = new Set(states.filter((o) => o.state === 'completed').map((o) => o.batch_id));
    expect(fills.map((f) => f.client_order_id).sort()).toEqual([...batchIds].sort());
    for (const fill of fills) expect(readQuantity(fill.notional) >= readQuantity('10')).toBe(true);
  });
});

describe('Idempotency-Key on orders', () => {
  it('returns the same order for the same key and body, debiting once', async () => {
    const user = await fundedUser(api, '100.00');
    const headers = { 'idempotency-key': 'order-key-1' };
    const first = await buy(user.access, { crypto: 'ABAN', amount: 3 }, headers);
    const again = await buy(user.access, { crypto: 'ABAN', amount: '3.0' }, headers);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await balanceOf(api, user.access)).toBe('88.00');
  });

  it('409 for the same key with a different body', async () => {
    const user = await fundedUser(api, '100.00');
    await buy(user.access, { crypto: 'ABAN', amount: 3 }, { 'idempotency-key': 'order-key-2' });
    const res = await buy(user.access, { crypto: 'ABAN', amount: 4 }, { 'idempotency-key': 'order-key-2' });
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });
    expect(await balanceOf(api, user.access)).toBe('88.00');
  });

  it('concurrent duplicates create one order', async () => {
    const user = await fundedUser(api, '100.00');
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        buy(user.access, { crypto: 'ABAN', amount: 3 }, { 'idempotency-key': 'k3' }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(await balanceOf(api, user.access)).toBe('88.00');
    expect((await api.call('GET', 'orders/', { token: user.access })).body.results).toHaveLength(1);
  });

  it('replays a refusal instead of placing the order later', async () => {
    const user = await fundedUser(api, '5.00');
    const headers = { 'idempotency-key': 'k4' };
    expect((await buy(user.access, { crypto: 'ABAN', amount: 3 }, headers)).status).toBe(422);
    await api.call('PATCH', 'accounts/wallet/deposit/', { token: user.access, body: { amount: 100 } });
    expect((await buy(user.access, { crypto: 'ABAN', amount: 3 }, headers)).status).toBe(422);
    expect(await balanceOf(api, user.access)).toBe('105.00');
  });
});

describe('reading orders', () => {
  it('lists newest first with a cursor and hides other users’ orders', async () => {
    const user = await fundedUser(api, '100.00');
    const other = await fundedUser(api, '100.00');
    const ids = [];
    for (const amount of [3, 4, 5]) ids.push((await buy(user.access, { crypto: 'ABAN', amount })).body.id);
    const page1 = await api.call('GET', 'orders/?limit=2', { token: user.access });
    expect(page1.body.results.map((o: { id: number }) => o.id)).toEqual([ids[2], ids[1]]);
    const page2 = await api.call('GET', `orders/?limit=2&cursor=${page1.body.next_cursor}`, {
      token: user.access,
    });
    expect(page2.body).toMatchObject({ results: [{ id: ids[0] }], next_cursor: null });
    expect((await getOrder(other.access, ids[0])).status).toBe(404);
    expect((await api.call('GET', 'orders/', { token: other.access })).body.results).toEqual([]);
    expect((await api.call('GET', 'orders/', {})).status).toBe(401);
  });
});

describe('metrics', () => {
  it('the API exports orders by state, placement latency and pools; the worker its decisions', async () => {
    const user = await fundedUser(api, '100.00');
    const placed = await buy(user.access, { crypto: 'ABAN', amount: 3 });
    await eventually(
      () => getOrder(user.access, placed.body.id),
      (r) => r.body.state === 'completed',
    );
    const text = await api.app.metrics.registry.metrics();
    expect(text).toMatch(/^orders\{state="completed"\} [1-9]\d*$/m);
    expect(text).toMatch(/^order_placement_duration_seconds_count\{status="201"\} [1-9]\d*$/m);
    expect(text).toMatch(/^pool_orders\{crypto="ABAN"\} \d+$/m);
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/orders\/",status="201"\} /m,
    );
    const worker = await api.workerMetrics!.registry.metrics();
    expect(worker).toMatch(/^fraud_decisions_total\{action="allow",rule="none"\} [1-9]\d*$/m);
    expect(worker).toMatch(/^exchange_buys_total\{kind="order",outcome="filled"\} [1-9]\d*$/m);
  });
});
