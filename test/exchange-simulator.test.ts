import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { loadSimulatorConfig, type SimulatorConfig } from '../src/exchange/simulator/config.js';
import { buildSimulator } from '../src/exchange/simulator/server.js';
import { OrderBook } from '../src/exchange/simulator/state.js';

let app: FastifyInstance;
let base: string;

async function start(overrides: Partial<SimulatorConfig> = {}, random?: () => number) {
  app = buildSimulator({ ...loadSimulatorConfig({ LOG_LEVEL: 'silent' }), ...overrides }, { random });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

afterEach(() => app?.close());

const post = (path: string, body: unknown, method = 'POST') =>
  fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const order = (id: string, crypto = 'ABAN', notional = '12.00') =>
  post('/orders', { client_order_id: id, crypto, notional });
const executed = async () => (await (await fetch(`${base}/orders`)).json()) as { client_order_id: string }[];

describe('exchange simulator', () => {
  test('quotes the configured prices', async () => {
    await start();
    const res = await fetch(`${base}/prices`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { crypto: 'ABAN', price: '4.00' },
      { crypto: 'BTC', price: '50000.00' },
      { crypto: 'ETH', price: '3000.00' },
    ]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  test('fills a buy with the quantity the notional buys, then replays it with 200', async () => {
    await start();
    const first = await order('o-1', 'BTC', '12.00');
    expect(first.status).toBe(201);
    const fill = (await first.json()) as Record<string, string>;
    expect(fill).toMatchObject({
      client_order_id: 'o-1',
      crypto: 'BTC',
      notional: '12.00',
      price: '50000.00',
    });
    expect(fill.quantity).toBe('0.00024000');

    const again = await order('o-1', 'BTC', '12.00');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(fill);
    expect(await executed()).toEqual([fill]);
    expect(await (await fetch(`${base}/orders/o-1`)).json()).toEqual(fill);
    expect((await fetch(`${base}/orders/o-2`)).status).toBe(404);
  });

  test('refuses bad bodies, unknown cryptos, small notionals and reused ids', async () => {
    await start();
    const codeOf = async (res: Response) => [
      res.status,
      ((await res.json()) as { error: { code: string } }).error.code,
    ];
    expect(
      await codeOf(await post('/orders', { client_order_id: 'x', crypto: 'ABAN', notional: 12 })),
    ).toEqual([400, 'bad_request']);
    expect(await codeOf(await order('x', 'ABAN', '12.001'))).toEqual([400, 'bad_request']);
    expect(await codeOf(await order('x', 'DOGE'))).toEqual([400, 'unknown_crypto']);
    expect(await codeOf(await order('x', 'ABAN', '9.99'))).toEqual([422, 'min_notional']);
    expect((await order('x', 'ABAN', '10.00')).status).toBe(201);
    expect(await codeOf(await order('x', 'ABAN', '11.00'))).toEqual([409, 'idempotency_conflict']);
    expect(await codeOf(await order('x', 'ETH', '10.00'))).toEqual([409, 'idempotency_conflict']);
    expect(await executed()).toHaveLength(1);
  });

  test('injected failures answer 503 and execute nothing; faults switch at runtime', async () => {
    await start({ failureRate: 1 });
    expect((await order('f-1')).status).toBe(503);
    expect(await executed()).toEqual([]);

    const res = await post('/admin/faults', { failure_rate: 0 }, 'PUT');
    expect(await res.json()).toEqual({ failure_rate: 0, drop_rate: 0, latency_ms: 0 });
    expect((await order('f-1')).status).toBe(201);
  });

  test('fault rates are drawn from the injected randomness', async () => {
    const draws = [0.6, 0.4];
    await start({ failureRate: 0.5 }, () => draws.shift()!);
    expect((await order('r-1')).status).toBe(201); // 0.6 ≥ 0.5: passes
    expect((await order('r-2')).status).toBe(503); // 0.4 < 0.5: fails
  });

  test('a dropped response still executes the buy', async () => {
    await start({ dropRate: 1 });
    await expect(order('d-1')).rejects.toThrow();
    expect((await executed()).map((f) => f.client_order_id)).toEqual(['d-1']);
  });

  test('prices drift within the bound and never reach zero', () => {
    const book = new OrderBook(
      new Map([
        ['ABAN', 400n],
        ['PENNY', 1n],
      ]),
      1000n,
    );
    book.drift(0.1, () => 1); // the top of the range: +10%
    expect(book.quotes()).toEqual([
      { crypto: 'ABAN', price: '4.40' },
      { crypto: 'PENNY', price: '0.01' },
    ]);
    book.drift(1, () => 0); // -100% would be free
    expect(book.quotes().map((q) => q.price)).toEqual(['0.01', '0.01']);
  });
});
