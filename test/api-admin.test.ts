import {
  ADMIN,
  eventually,
  login,
  newUser,
  startApi,
  type TestApi,
  fundedUser,
  balanceOf,
} from './support/api.js';

let api: TestApi;
let admin: string;
beforeAll(async () => {
  // New accounts: orders from $20 are held for review, from $1000 rejected.
  api = await startApi({
    worker: true,
    env: { FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00', FRAUD_NEW_ACCOUNT_REJECT_TOTAL: '1000.00' },
  });
  admin = await login(api, ADMIN.username, ADMIN.password);
});
afterAll(async () => api?.close());

const audit = (action: string) =>
  api.db.orm.em
    .fork()
    .execute<{ subject: string }[]>('select subject from admin_actions where action = ?', [action]);

describe('admin routes', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', 'admin/orders/held/'],
    ['POST', 'admin/orders/1/approve/'],
    ['POST', 'admin/orders/1/reject/'],
    ['GET', 'admin/pools/'],
    ['GET', 'admin/crypto-currencies/'],
    ['PATCH', 'admin/crypto-currencies/ABAN/', { price: '5.00' }],
    ['GET', 'admin/reconcile/'],
    ['GET', 'admin/wallets/'],
  ];

  it.each(routes.map(([method, path, body]) => ({ method, path, body })))(
    '$method $path: 401 without a token, 403 for a non-admin',
    async ({ method, path, body }) => {
      const user = await newUser(api);
      expect((await api.call(method, path, { body })).status).toBe(401);
      expect((await api.call(method, path, { token: user.access, body })).status).toBe(403);
    },
  );
});

describe('fraud holds and review', () => {
  it('holds a large first order; an approved one completes', async () => {
    const user = await fundedUser(api, '100.00');
    const placed = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ABAN', amount: 6 },
    });
    expect(placed).toMatchObject({ status: 201, body: { state: 'held', total_price: '24.00' } });
    expect(await balanceOf(api, user.access)).toBe('76.00');

    const held = await api.call('GET', 'admin/orders/held/', { token: admin });
    expect(held.body.results).toContainEqual(
      expect.objectContaining({ id: placed.body.id, fraud_rule: 'new_account', username: user.username }),
    );
    const approved = await api.call('POST', `admin/orders/${placed.body.id}/approve/`, { token: admin });
    expect(approved).toMatchObject({ status: 200, body: { id: placed.body.id, state: 'pending' } });
    await eventually(
      () => api.call('GET', `orders/${placed.body.id}/`, { token: user.access }),
      (r) => r.body.state === 'completed',
    );
    expect(await audit('approve_order')).toContainEqual({ subject: `order:${placed.body.id}` });
    // Decided once: a second decision is refused.
    expect((await api.call('POST', `admin/orders/${placed.body.id}/reject/`, { token: admin })).status).toBe(
      409,
    );
  });

  it('a rejected hold is refunded', async () => {
    const user = await fundedUser(api, '100.00');
    const placed = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ABAN', amount: 6 },
    });
    expect(placed.body.state).toBe('held');
    const rejected = await api.call('POST', `admin/orders/${placed.body.id}/reject/`, { token: admin });
    expect(rejected).toMatchObject({
      status: 200,
      body: { state: 'failed', failure_reason: 'rejected by review' },
    });
    expect(await balanceOf(api, user.access)).toBe('100.00');
    const ledger = await api.call('GET', 'transactions/', { token: user.access });
    expect(ledger.body.results[0]).toMatchObject({
      type: 'refund',
      amount: '24.00',
      order_id: placed.body.id,
    });
    expect(await audit('reject_order')).toContainEqual({ subject: `order:${placed.body.id}` });
  });

  it('rejects outright what the rules refuse, moving no money but recording why', async () => {
    const user = await fundedUser(api, '2000.00');
    const res = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ABAN', amount: 300 },
    });
    expect(res).toMatchObject({ status: 422, body: { error: { code: 'order_rejected' } } });
    expect(await balanceOf(api, user.access)).toBe('2000.00');
    const [order] = (await api.call('GET', 'orders/', { token: user.access })).body.results;
    expect(order).toMatchObject({ state: 'failed', failure_reason: expect.stringContaining('rejected') });
  });

  it('404 for an unknown order, 409 for one not held', async () => {
    expect((await api.call('POST', 'admin/orders/987654/approve/', { token: admin })).status).toBe(404);
    const user = await fundedUser(api, '100.00');
    const small = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ABAN', amount: 3 },
    });
    expect(small.body.state).not.toBe('held');
    const res = await api.call('POST', `admin/orders/${small.body.id}/approve/`, { token: admin });
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'order_not_held' } } });
  });
});

describe('admin operations', () => {
  it('shows the pools from their workflows', async () => {
    const user = await fundedUser(api, '100.00');
    const res = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ETH', amount: '0.001' },
    });
    expect(res.body.state).toBe('aggregated');
    const pools = await eventually(
      () => api.call('GET', 'admin/pools/', { token: admin }),
      (r) =>
        r.body.some((p: { crypto: string; orders: unknown[] }) => p.crypto === 'ETH' && p.orders.length > 0),
    );
    const eth = pools.body.find((p: { crypto: string }) => p.crypto === 'ETH');
    expect(eth).toMatchObject({
      total: '3.00',
      threshold: '10.00',
      orders: [{ order_id: res.body.id, total: '3.00' }],
    });
    expect(pools.body.find((p: { crypto: string }) => p.crypto === 'BTC')).toMatchObject({
      total: '0.00',
      orders: [],
    });
  });

  it('sets a price and deactivates a crypto, audited', async () => {
    const price = await api.call('PATCH', 'admin/crypto-currencies/aban/', {
      token: admin,
      body: { price: '5.00' },
    });
    expect(price).toMatchObject({ status: 200, body: { name: 'ABAN', price: '5.00', active: true } });
    const off = await api.call('PATCH', 'admin/crypto-currencies/BTC/', {
      token: admin,
      body: { active: false },
    });
    expect(off.body).toMatchObject({ name: 'BTC', active: false });
    const list = (await api.call('GET', 'exchanges/crypto-currencies/')).body;
    expect(list).toContainEqual({ name: 'ABAN', price: '5.00' });
    expect(list.map((c: { name: string }) => c.name)).not.toContain('BTC');
    const user = await fundedUser(api, '100.00');
    const btc = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'BTC', amount: '0.001' },
    });
    expect(btc).toMatchObject({ status: 400, body: { error: { code: 'unknown_crypto' } } });
    expect((await audit('update_crypto')).map((a) => a.subject)).toEqual(['crypto:ABAN', 'crypto:BTC']);
    await api.call('PATCH', 'admin/crypto-currencies/BTC/', { token: admin, body: { active: true } });
    await api.call('PATCH', 'admin/crypto-currencies/ABAN/', { token: admin, body: { price: '4.00' } });
  });

  it.each([
    [{ price: '-1' }],
    [{ price: '5.001' }],
    [{}],
    [{ price: '5.00', role: 'admin' }],
    [{ active: 'yes' }],
  ])('refuses the change %j with 400', async (body) => {
    expect((await api.call('PATCH', 'admin/crypto-currencies/ABAN/', { token: admin, body })).status).toBe(
      400,
    );
  });

  it('404 for an unknown crypto', async () => {
    const res = await api.call('PATCH', 'admin/crypto-currencies/NOPE/', {
      token: admin,
      body: { price: '1.00' },
    });
    expect(res.status).toBe(404);
  });

  it('reconciles and lists wallets', async () => {
    const reconcile = await api.call('GET', 'admin/reconcile/', { token: admin });
    expect(reconcile).toMatchObject({ status: 200, body: { mismatches: [] } });
    expect(reconcile.body.wallets).toBeGreaterThan(1);
    const wallets = await api.call('GET', 'admin/wallets/?limit=1', { token: admin });
    expect(wallets.body.results).toEqual([
      { user_id: expect.any(Number), username: 'admin', balance: expect.any(String) },
    ]);
    expect(wallets.body.next_cursor).not.toBeNull();
  });
});
