import {
  ADMIN,
  balanceOf,
  eventually,
  fundedUser,
  login,
  newUser,
  startApi,
  type TestApi,
} from './support/api.js';
import { addCrypto } from './support/pipeline.js';
import { poolQuery, poolWorkflowId } from '../src/workflows/definitions.js';

// Cancelling waiting orders through the real API, worker, Temporal dev server and exchange
// simulator. Each test pools its own crypto, so its pool-<CRYPTO> is its own; the pools' maximum
// wait is an hour, so only a full pool is ever bought here.

const CRYPTOS = { CXA: '3.33', CXB: '1.00', CXC: '1.00', CXR: '1.00' };

let api: TestApi;
let admin: string;
beforeAll(async () => {
  api = await startApi({
    worker: true,
    env: {
      AGGREGATION_MAX_WAIT: '1h',
      // New accounts: orders from $20 are held for review.
      FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00',
      FRAUD_NEW_ACCOUNT_REJECT_TOTAL: '1000.00',
      RATE_LIMIT_ENABLED: 'false',
    },
    simulatorEnv: {
      EXCHANGE_SIM_PRICES: [
        'ABAN=4.00,BTC=50000.00,ETH=3000.00',
        ...Object.entries(CRYPTOS).map(([n, p]) => `${n}=${p}`),
      ].join(','),
    },
  });
  for (const [name, price] of Object.entries(CRYPTOS)) await addCrypto(api.db, name, price);
  admin = await login(api, ADMIN.username, ADMIN.password);
}, 60_000);
afterAll(async () => api?.close());

type User = Awaited<ReturnType<typeof fundedUser>>;
const place = (user: User, crypto: string, amount: string) =>
  api.call('POST', 'orders/', { token: user.access, body: { crypto, amount } });
const cancel = (token: string, id: number) => api.call('POST', `orders/${id}/cancel/`, { token });
const get = (user: User, id: number) => api.call('GET', `orders/${id}/`, { token: user.access });
const pool = (crypto: string) =>
  api.temporal.workflow
    .getHandle(poolWorkflowId(crypto))
    .query(poolQuery)
    .catch(() => undefined);
const pooledIds = async (crypto: string) => (await pool(crypto))?.orders.map((o) => o.orderId) ?? [];
const untilPooled = (crypto: string, id: number) =>
  eventually(
    () => pooledIds(crypto),
    (ids) => ids.includes(id),
  );
const untilState = (user: User, id: number, state: string) =>
  eventually(
    () => get(user, id),
    (r) => r.body.state === state,
    60_000,
  );
/** The user's ledger entries of one type, oldest first. */
async function entries(user: User, type: string) {
  const res = await api.call('GET', 'transactions/?limit=100', { token: user.access });
  return (res.body.results as { type: string; amount: string; order_id: number | null }[])
    .filter((e) => e.type === type)
    .reverse();
}
const notCancellable = { status: 409, body: { error: { code: 'order_not_cancellable' } } };

describe('POST orders/{id}/cancel/', () => {
  it('cancels a pooled order: 200 cancelled, refunded exactly, the pool total shrinks', async () => {
    const user = await fundedUser(api, '50.00');
    const first = await place(user, 'CXA', '1.2345'); // 1.2345 × 3.33 = 4.110885 → 4.11
    const second = await place(user, 'CXA', '1');
    expect(first).toMatchObject({ status: 201, body: { state: 'aggregated', total_price: '4.11' } });
    expect(second).toMatchObject({ status: 201, body: { state: 'aggregated', total_price: '3.33' } });
    await untilPooled('CXA', second.body.id);
    expect((await pool('CXA'))?.total).toBe('7.44');
    expect(await balanceOf(api, user.access)).toBe('42.56');

    const cancelled = await cancel(user.access, first.body.id);
    expect(cancelled).toMatchObject({
      status: 200,
      body: { id: first.body.id, state: 'cancelled', total_price: '4.11', batch_id: null },
    });
    expect(await balanceOf(api, user.access)).toBe('46.67');
    expect(await entries(user, 'refund')).toEqual([
      expect.objectContaining({ amount: '4.11', order_id: first.body.id }),
    ]);
    expect(await pool('CXA')).toMatchObject({
      total: '3.33',
      orders: [expect.objectContaining({ orderId: second.body.id })],
    });
    expect((await get(user, first.body.id)).body.state).toBe('cancelled');

    // Once cancelled, it stays so: a second cancel is refused and refunds nothing more.
    expect(await cancel(user.access, first.body.id)).toMatchObject(notCancellable);
    expect(await balanceOf(api, user.access)).toBe('46.67');
    // Another user's order, and an order that does not exist, are not found; a bad id is a 400.
    const other = await newUser(api);
    expect(await cancel(other.access, second.body.id)).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect((await cancel(other.access, 987_654_321)).status).toBe(404);
    expect((await cancel(other.access, 'x' as unknown as number)).status).toBe(400);
    expect((await api.call('POST', `orders/${second.body.id}/cancel/`)).status).toBe(401);
    expect((await pool('CXA'))?.total).toBe('3.33');
  });

  it('refuses completed, failed and pending orders, and one in a batch being bought (409)', async () => {
    const user = await fundedUser(api, '100.00');
    const completed = await place(user, 'ABAN', '3');
    await untilState(user, completed.body.id, 'completed');
    expect(await cancel(user.access, completed.body.id)).toMatchObject(notCancellable);

    // Held, rejected by an admin: failed and refunded.
    const held = await place(user, 'ABAN', '6');
    expect(held.body.state).toBe('held');
    expect((await api.call('POST', `admin/orders/${held.body.id}/reject/`, { token: admin })).status).toBe(
      200,
    );
    expect(await cancel(user.access, held.body.id)).toMatchObject(notCancellable);

    // The exchange answers slowly: a $12 order stays pending, and a full pool's batch stays open.
    await api.sim!.setFaults({ latency_ms: 4_000 });
    try {
      const pending = await place(user, 'ABAN', '3');
      expect(pending.body.state).toBe('pending');
      expect(await cancel(user.access, pending.body.id)).toMatchObject(notCancellable);

      const a = await place(user, 'CXB', '4');
      await untilPooled('CXB', a.body.id);
      const b = await place(user, 'CXB', '6');
      await eventually(
        () => get(user, a.body.id),
        (r) => r.body.batch_id !== null,
      );
      expect(await cancel(user.access, a.body.id)).toMatchObject(notCancellable);
      expect(await cancel(user.access, b.body.id)).toMatchObject(notCancellable);
      await api.sim!.setFaults({ latency_ms: 0 });
      await untilState(user, a.body.id, 'completed');
      await untilState(user, b.body.id, 'completed');
      await untilState(user, pending.body.id, 'completed');
    } finally {
      await api.sim!.setFaults({ latency_ms: 0 });
    }
    // Completed: $12 + $12 + $4 + $6; the rejected $24 came back.
    expect(await balanceOf(api, user.access)).toBe('66.00');
    expect(await entries(user, 'refund')).toEqual([expect.objectContaining({ order_id: held.body.id })]);
  }, 120_000);

  it('cancels a held order: its own workflow decides, refunded, no review afterwards', async () => {
    const user = await fundedUser(api, '100.00');
    const held = await place(user, 'ABAN', '6');
    expect(held).toMatchObject({ status: 201, body: { state: 'held', total_price: '24.00' } });
    expect(await balanceOf(api, user.access)).toBe('76.00');

    const other = await fundedUser(api, '10.00');
    expect((await cancel(other.access, held.body.id)).status).toBe(404);
    expect(await cancel(user.access, held.body.id)).toMatchObject({
      status: 200,
      body: { id: held.body.id, state: 'cancelled', failure_reason: 'cancelled by its owner' },
    });
    expect(await balanceOf(api, user.access)).toBe('100.00');
    expect(await entries(user, 'refund')).toEqual([
      expect.objectContaining({ amount: '24.00', order_id: held.body.id }),
    ]);
    expect((await api.call('POST', `admin/orders/${held.body.id}/approve/`, { token: admin })).status).toBe(
      409,
    );
    expect(await cancel(user.access, held.body.id)).toMatchObject(notCancellable);
    expect(await balanceOf(api, user.access)).toBe('100.00');
  });
});

describe('an order still placing', () => {
  it('is refused (409) to its owner and not found for anyone else', async () => {
    // No worker polls this API's task queue: every order stays placing.
    const idle = await startApi({ env: { PLACEMENT_TIMEOUT: '300ms', RATE_LIMIT_ENABLED: 'false' } });
    try {
      const { access: token } = await fundedUser(idle, '10.00');
      const placing = await idle.call('POST', 'orders/', { token, body: { crypto: 'ABAN', amount: '1' } });
      expect(placing).toMatchObject({ status: 202, body: { state: 'placing' } });
      expect(await idle.call('POST', `orders/${placing.body.id}/cancel/`, { token })).toMatchObject(
        notCancellable,
      );
      const other = await newUser(idle);
      expect(
        (await idle.call('POST', `orders/${placing.body.id}/cancel/`, { token: other.access })).status,
      ).toBe(404);
    } finally {
      await idle.close();
    }
  });
});

describe('POST admin/orders/{id}/cancel/', () => {
  const audit = () =>
    api.db.orm.em
      .fork()
      .execute<{ admin_id: number; subject: string; details: { from: string } }[]>(
        `select admin_id, subject, details from admin_actions where action = 'cancel_order' order by id`,
      );

  it('cancels any user’s waiting order, pooled or held, and audits it; others are refused', async () => {
    const user = await fundedUser(api, '100.00');
    const pooled = await place(user, 'CXC', '5');
    const held = await place(user, 'ABAN', '6');
    await untilPooled('CXC', pooled.body.id);

    expect(
      (await api.call('POST', `admin/orders/${pooled.body.id}/cancel/`, { token: user.access })).status,
    ).toBe(403);
    expect((await api.call('POST', `admin/orders/${pooled.body.id}/cancel/`)).status).toBe(401);
    const byAdmin = (id: number) => api.call('POST', `admin/orders/${id}/cancel/`, { token: admin });
    expect(await byAdmin(pooled.body.id)).toMatchObject({
      status: 200,
      body: { state: 'cancelled', failure_reason: 'cancelled by an admin' },
    });
    expect(await byAdmin(held.body.id)).toMatchObject({ status: 200, body: { state: 'cancelled' } });
    expect(await balanceOf(api, user.access)).toBe('100.00');
    expect((await pool('CXC'))?.total).toBe('0.00');
    expect(await byAdmin(held.body.id)).toMatchObject(notCancellable);
    expect((await byAdmin(987_654_321)).status).toBe(404);

    const adminId = (
      await api.db.orm.em.fork().execute<{ id: number }[]>(`select id from users where username = 'admin'`)
    )[0]!.id;
    expect(await audit()).toEqual([
      { admin_id: adminId, subject: `order:${pooled.body.id}`, details: { from: 'aggregated' } },
      { admin_id: adminId, subject: `order:${held.body.id}`, details: { from: 'held' } },
    ]);
  });
});

describe('a cancel racing the order that fills the pool', () => {
  const ROUNDS = 24;
  const DELAYS = [0, 20, 40, 60, 100, 150, 'answered', 'batched'] as const;

  it('either takes the order out before the batch or is refused; never both; money exact every round', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const user = await fundedUser(api, '20.00');
      const a = await place(user, 'CXR', '6');
      await untilPooled('CXR', a.body.id);

      // B ($4) fills the pool to $10. The cancel of A goes out with it or up to 150 ms later (B's
      // debit takes about that long), once B is answered (its debit committed, before it joins the
      // pool), or once A is in the batch: across rounds it lands before the batch opens, while it
      // is bought, and after.
      const delay = DELAYS[round % DELAYS.length]!;
      const sendB = place(user, 'CXR', '4');
      const cancelA = (async () => {
        if (delay === 'answered') await sendB;
        else if (delay === 'batched')
          await eventually(
            () => get(user, a.body.id),
            (r) => r.body.batch_id !== null,
            60_000,
          );
        else await new Promise((r) => setTimeout(r, delay));
        return [cancel(user.access, a.body.id), delay] as const;
      })().then(async ([response, at]) => ({ ...(await response), at }));
      const [b, cancelled] = await Promise.all([sendB, cancelA]);
      expect(b.status).toBe(201);
      expect([200, 409]).toContain(cancelled.status);

      if (cancelled.status === 200) {
        outcomes.push(`cancelled@${cancelled.at}`);
        expect(cancelled.body).toMatchObject({ state: 'cancelled', batch_id: null });
        // B waits alone; cancelling it too leaves the pool empty for the next round.
        expect(await cancel(user.access, b.body.id)).toMatchObject({ status: 200 });
        expect(await balanceOf(api, user.access)).toBe('20.00');
        expect((await entries(user, 'refund')).map((e) => e.order_id).sort()).toEqual(
          [a.body.id, b.body.id].sort(),
        );
      } else {
        outcomes.push(`refused@${cancelled.at}`);
        expect(cancelled.body.error.code).toBe('order_not_cancellable');
        const [doneA, doneB] = [
          await untilState(user, a.body.id, 'completed'),
          await untilState(user, b.body.id, 'completed'),
        ];
        expect(doneA.body.batch_id).toBe(doneB.body.batch_id);
        expect(await balanceOf(api, user.access)).toBe('10.00');
        expect(await entries(user, 'refund')).toEqual([]);
      }
      expect(await pool('CXR')).toMatchObject({ total: '0.00', orders: [] });
    }

    console.log(outcomes.join(','));
    // Both outcomes happened, and the exchange bought exactly the refused rounds' $10 batches.
    expect(new Set(outcomes.map((o) => o.split('@')[0]))).toEqual(new Set(['cancelled', 'refused']));
    const refusedRounds = outcomes.filter((o) => o.startsWith('refused')).length;
    const batches = (await api.sim!.fills()).filter((f) => f.crypto === 'CXR');
    expect(batches.map((f) => f.notional)).toEqual(Array(refusedRounds).fill('10.00000000'));
    const reconcile = await api.call('GET', 'admin/reconcile/', { token: admin });
    expect(reconcile.status).toBe(200);
    expect(reconcile.body.mismatches).toEqual([]);
    expect(reconcile.body.house.failures).toEqual([]);
  }, 300_000);
});
