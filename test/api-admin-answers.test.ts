import { refreshPricesWorkflow } from '../src/workflows/index.js';
import { poolWorkflowId } from '../src/workflows/definitions.js';
import { ADMIN, eventually, login, startApi, type TestApi, fundedUser, balanceOf } from './support/api.js';

let api: TestApi;
let admin: string;
beforeAll(async () => {
  // New accounts: orders from $20 are held for review. The exchange quotes BTC above the seed.
  api = await startApi({
    worker: true,
    env: { FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00', FRAUD_NEW_ACCOUNT_REJECT_TOTAL: '100000.00' },
    simulatorEnv: { EXCHANGE_SIM_PRICES: 'ABAN=4.00,BTC=51000.00,ETH=3000.00' },
  });
  admin = await login(api, ADMIN.username, ADMIN.password);
});
afterAll(async () => api?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two admins deciding one held order at once', () => {
  it('the loser gets 409 order_not_held, never a 5xx, and money follows the winner', async () => {
    const rounds = 16;
    for (let round = 0; round < rounds; round++) {
      const user = await fundedUser(api, '100.00');
      const placed = await api.call('POST', 'orders/', {
        token: user.access,
        body: { crypto: 'ABAN', amount: 6 },
      });
      expect(placed.body.state).toBe('held');
      const path = (decision: string) => `admin/orders/${placed.body.id}/${decision}/`;
      const first = round % 2 === 0 ? 'approve' : 'reject';
      const second = first === 'approve' ? 'reject' : 'approve';
      const answers = await Promise.all([
        api.call('POST', path(first), { token: admin }),
        api.call('POST', path(second), { token: admin }),
      ]);
      const statuses = answers.map((a) => a.status).sort();
      expect({ round, statuses }).toEqual({ round, statuses: [200, 409] });
      const loser = answers.find((a) => a.status === 409)!;
      expect(loser.body.error.code).toBe('order_not_held');
      const winner = answers.find((a) => a.status === 200)!;
      const approved = winner.body.state !== 'failed';
      if (approved) {
        await eventually(
          () => api.call('GET', `orders/${placed.body.id}/`, { token: user.access }),
          (r) => r.body.state === 'completed',
        );
        expect(await balanceOf(api, user.access)).toBe('76.00');
      } else {
        expect(winner.body.failure_reason).toBe('rejected by review');
        expect(await balanceOf(api, user.access)).toBe('100.00');
      }
    }
  });
});

describe('pinned prices', () => {
  const cryptos = async () =>
    (await api.call('GET', 'admin/crypto-currencies/', { token: admin })).body as {
      name: string;
      price: string;
      price_source: string;
      price_refreshed_at: string | null;
    }[];
  const refresh = () =>
    api.temporal.workflow.execute(refreshPricesWorkflow, {
      taskQueue: api.env.TEMPORAL_TASK_QUEUE,
      workflowId: `refresh-${Date.now()}`,
    });

  it('a manual price survives the scheduled refresh until it is unpinned', async () => {
    expect((await cryptos()).find((c) => c.name === 'ETH')).toMatchObject({
      price_source: 'exchange',
      price_refreshed_at: null,
    });
    const pinned = await api.call('PATCH', 'admin/crypto-currencies/ETH/', {
      token: admin,
      body: { price: '3100.00' },
    });
    expect(pinned).toMatchObject({
      status: 200,
      body: { name: 'ETH', price: '3100.00', price_source: 'manual' },
    });

    const before = Date.now();
    await refresh();
    const refreshed = await cryptos();
    expect(refreshed.find((c) => c.name === 'ETH')).toMatchObject({
      price: '3100.00',
      price_source: 'manual',
    });
    // An exchange-sourced price is copied, and the time of the refresh recorded.
    const btc = refreshed.find((c) => c.name === 'BTC')!;
    expect(btc).toMatchObject({ price: '51000.00', price_source: 'exchange' });
    expect(Date.parse(btc.price_refreshed_at!)).toBeGreaterThanOrEqual(before - 1_000);
    expect((await api.call('GET', 'exchanges/crypto-currencies/')).body).toContainEqual({
      name: 'ETH',
      price: '3100.00',
    });

    const unpinned = await api.call('PATCH', 'admin/crypto-currencies/ETH/', {
      token: admin,
      body: { price: null },
    });
    expect(unpinned).toMatchObject({ status: 200, body: { price: '3100.00', price_source: 'exchange' } });
    await refresh();
    expect((await cryptos()).find((c) => c.name === 'ETH')).toMatchObject({
      price: '3000.00',
      price_source: 'exchange',
    });

    const audit = await api.db.orm.em
      .fork()
      .execute<{ details: unknown }[]>(
        "select details from admin_actions where action = 'update_crypto' and subject = 'crypto:ETH' order by id",
      );
    expect(audit.map((a) => a.details)).toEqual([{ price: '3100.00' }, { price: null }]);
  });

  it('refuses a malformed price with 400 and changes nothing', async () => {
    const res = await api.call('PATCH', 'admin/crypto-currencies/ETH/', {
      token: admin,
      body: { price: '' },
    });
    expect(res.status).toBe(400);
    expect((await cryptos()).find((c) => c.name === 'ETH')).toMatchObject({ price_source: 'exchange' });
  });
});

describe('pool view', () => {
  it('ages the waiting orders at request time from the absolute times of the pool', async () => {
    const user = await fundedUser(api, '100.00');
    const placed = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ETH', amount: '0.001' },
    });
    expect(placed.body.state).toBe('aggregated');
    const pool = async () => {
      const res = await api.call('GET', 'admin/pools/', { token: admin });
      return res.body.find((p: { crypto: string }) => p.crypto === 'ETH');
    };
    const first = await eventually(pool, (p) => p.orders.length > 0);
    await sleep(1_200);
    const second = await pool();
    expect(second.orders).toEqual([
      {
        order_id: placed.body.id,
        total: '3.00',
        amount: '0.00100000',
        added_at: first.orders[0].added_at,
        waiting_ms: expect.any(Number),
      },
    ]);
    expect(Math.abs(Date.parse(second.orders[0].added_at) - Date.parse(placed.body.created_at))).toBeLessThan(
      5_000,
    );
    expect(second.orders[0].waiting_ms - first.orders[0].waiting_ms).toBeGreaterThanOrEqual(1_000);
    expect(first.flush_in_ms - second.flush_in_ms).toBeGreaterThanOrEqual(1_000);
    expect(second.flush_at).toBe(first.flush_at);
    // The flush is due AGGREGATION_MAX_WAIT after the order joined.
    expect(Date.parse(second.flush_at) - Date.parse(second.orders[0].added_at)).toBe(
      api.env.AGGREGATION_MAX_WAIT,
    );
  });

  it('answers 503 within the RPC deadline when a running pool has no worker, and an empty pool once it is closed', async () => {
    // A BTC pool on a task queue nobody polls: its query could never be answered.
    const orphan = await api.temporal.workflow.start('poolWorkflow', {
      workflowId: poolWorkflowId('BTC'),
      taskQueue: `nobody-polls-${process.pid}`,
      args: [{ crypto: 'BTC', threshold: '10.00', maxWaitMs: 60_000 }],
    });
    const started = Date.now();
    const refused = await api.call('GET', 'admin/pools/', { token: admin });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('temporal_unavailable');
    expect(Date.now() - started).toBeLessThan(api.env.TEMPORAL_RPC_TIMEOUT + 3_000);

    // Closed, its last run is not queried (that would wait for the same missing worker).
    await orphan.terminate('test: orphan pool');
    const res = await api.call('GET', 'admin/pools/', { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.find((p: { crypto: string }) => p.crypto === 'BTC')).toMatchObject({
      total: '0.00',
      orders: [],
      flush_at: null,
    });
  });
});
