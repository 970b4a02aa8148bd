import { reconcile } from '../src/services/ledger.js';
import { newUser, startApi, type TestApi, balanceOf } from './support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

const deposit = (token: string, amount: unknown, headers?: Record<string, string>) =>
  api.call('PATCH', 'accounts/wallet/deposit/', { token, body: { amount }, headers });
const withdraw = (token: string, amount: unknown, headers?: Record<string, string>) =>
  api.call('POST', 'accounts/wallet/withdraw/', { token, body: { amount }, headers });

describe('deposit and withdraw', () => {
  it('moves exact amounts given as numbers or strings and records each move', async () => {
    const { access } = await newUser(api);
    expect(await deposit(access, 100.1)).toMatchObject({ status: 200, body: { balance: '100.10' } });
    expect(await deposit(access, '0.2')).toMatchObject({ status: 200, body: { balance: '100.30' } });
    expect(await withdraw(access, 0.3)).toMatchObject({ status: 200, body: { balance: '100.00' } });
    const list = await api.call('GET', 'transactions/', { token: access });
    expect(list.body.results.map((t: { type: string; amount: string }) => [t.type, t.amount])).toEqual([
      ['withdrawal', '0.30'],
      ['deposit', '0.20'],
      ['deposit', '100.10'],
    ]);
  });

  it.each([[-5], ['-5'], [0], ['0.00'], ['1e3'], ['abc'], [1.001], ['1000000.01'], [null], [true], [[10]]])(
    'refuses the amount %j with 400 and moves nothing',
    async (amount) => {
      const { access } = await newUser(api);
      await deposit(access, '50.00');
      for (const res of [await deposit(access, amount), await withdraw(access, amount)]) {
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation_error');
      }
      expect(await balanceOf(api, access)).toBe('50.00');
    },
  );

  it('refuses JSON exponent notation and unknown fields', async () => {
    const { access } = await newUser(api);
    const raw = await api.call('PATCH', 'accounts/wallet/deposit/', {
      token: access,
      body: '{"amount": 1e2}',
    });
    expect(raw.status).toBe(400);
    const extra = await deposit(access, 10, undefined);
    expect(extra.status).toBe(200);
    const mass = await api.call('PATCH', 'accounts/wallet/deposit/', {
      token: access,
      body: { amount: 10, balance: '999999.00' },
    });
    expect(mass.status).toBe(400);
    expect(await balanceOf(api, access)).toBe('10.00');
  });

  it('answers 422 when funds are insufficient, moving nothing', async () => {
    const { access } = await newUser(api);
    await deposit(access, 10);
    const res = await withdraw(access, '10.01');
    expect(res).toMatchObject({ status: 422, body: { error: { code: 'insufficient_funds' } } });
    expect(await balanceOf(api, access)).toBe('10.00');
  });

  it('requires authentication', async () => {
    expect((await api.call('GET', 'accounts/wallet/')).status).toBe(401);
    expect((await api.call('PATCH', 'accounts/wallet/deposit/', { body: { amount: 1 } })).status).toBe(401);
  });

  it('50 concurrent $10 withdrawals from $100: exactly 10 succeed and the ledger agrees', async () => {
    const { access } = await newUser(api);
    await deposit(access, 100);
    const results = await Promise.all(Array.from({ length: 50 }, () => withdraw(access, 10)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 422)).toHaveLength(40);
    expect(await balanceOf(api, access)).toBe('0.00');
    expect((await reconcile(api.db.orm.em.fork())).mismatches).toEqual([]);
  });
});

describe('Idempotency-Key on deposits', () => {
  it('replays the same response for the same key and body, once in the ledger', async () => {
    const { access } = await newUser(api);
    const headers = { 'idempotency-key': 'dep-1' };
    const first = await deposit(access, 25, headers);
    const again = await deposit(access, '25.00', headers);
    expect(first).toMatchObject({ status: 200, body: { balance: '25.00' } });
    expect(again).toMatchObject({ status: 200, body: { balance: '25.00' } });
    expect(await balanceOf(api, access)).toBe('25.00');
  });

  it('refuses the same key with a different amount with 409', async () => {
    const { access } = await newUser(api);
    await deposit(access, 25, { 'idempotency-key': 'dep-2' });
    const res = await deposit(access, 26, { 'idempotency-key': 'dep-2' });
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });
    expect(await balanceOf(api, access)).toBe('25.00');
  });

  it('applies concurrent duplicates once', async () => {
    const { access } = await newUser(api);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => deposit(access, 7, { 'idempotency-key': 'dep-3' })),
    );
    expect(results.every((r) => r.status === 200 && r.body.balance === '7.00')).toBe(true);
    expect(await balanceOf(api, access)).toBe('7.00');
  });

  it('scopes keys per user', async () => {
    const a = await newUser(api);
    const b = await newUser(api);
    await deposit(a.access, 5, { 'idempotency-key': 'shared' });
    expect(await deposit(b.access, 6, { 'idempotency-key': 'shared' })).toMatchObject({
      status: 200,
      body: { balance: '6.00' },
    });
  });
});

describe('transactions', () => {
  it('paginates newest first with a cursor', async () => {
    const { access } = await newUser(api);
    for (const amount of [1, 2, 3, 4, 5]) await deposit(access, amount);
    const first = await api.call('GET', 'transactions/?limit=2', { token: access });
    expect(first.body.results.map((t: { amount: string }) => t.amount)).toEqual(['5.00', '4.00']);
    const second = await api.call('GET', `transactions/?limit=2&cursor=${first.body.next_cursor}`, {
      token: access,
    });
    expect(second.body.results.map((t: { amount: string }) => t.amount)).toEqual(['3.00', '2.00']);
    const last = await api.call('GET', `transactions/?limit=2&cursor=${second.body.next_cursor}`, {
      token: access,
    });
    expect(last.body).toMatchObject({ results: [{ amount: '1.00' }], next_cursor: null });
  });

  it('shows one entry to its owner only', async () => {
    const owner = await newUser(api);
    const other = await newUser(api);
    await deposit(owner.access, 3);
    const [entry] = (await api.call('GET', 'transactions/', { token: owner.access })).body.results;
    const mine = await api.call('GET', `transactions/${entry.id}/`, { token: owner.access });
    expect(mine.body).toEqual({
      id: entry.id,
      type: 'deposit',
      amount: '3.00',
      order_id: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect((await api.call('GET', `transactions/${entry.id}/`, { token: other.access })).status).toBe(404);
    expect((await api.call('GET', 'transactions/99999999/', { token: owner.access })).status).toBe(404);
    expect((await api.call('GET', 'transactions/abc/', { token: owner.access })).status).toBe(400);
  });

  it.each(['limit=0', 'limit=101', 'limit=x', 'cursor=-1', 'page=2'])(
    'refuses the query %s with 400',
    async (q) => {
      const { access } = await newUser(api);
      expect((await api.call('GET', `transactions/?${q}`, { token: access })).status).toBe(400);
    },
  );
});

describe('crypto currencies', () => {
  it('lists the seeded prices without authentication', async () => {
    const res = await api.call('GET', 'exchanges/crypto-currencies/');
    expect(res.body).toEqual([
      { name: 'ABAN', price: '4.00' },
      { name: 'BTC', price: '50000.00' },
      { name: 'ETH', price: '3000.00' },
    ]);
  });
});

describe('reconcile', () => {
  it('detects a balance changed behind the ledger’s back', async () => {
    const em = api.db.orm.em.fork();
    expect((await reconcile(em)).mismatches).toEqual([]);
    const { access } = await newUser(api);
    await deposit(access, 10);
    await em.execute('update wallets set balance = balance + 1 where id = (select max(id) from wallets)');
    const { mismatches } = await reconcile(em);
    expect(mismatches).toEqual([expect.objectContaining({ balance: '11.00', ledger_sum: '10.00' })]);
    await em.execute('update wallets set balance = balance - 1 where id = (select max(id) from wallets)');
  });

  it('the ledger refuses updates and deletes', async () => {
    const em = api.db.orm.em.fork();
    await expect(em.execute('delete from transactions')).rejects.toThrow(/append-only/);
    await expect(em.execute('update transactions set amount = 1')).rejects.toThrow(/append-only/);
  });
});
