import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ExchangeRejectedError, ExchangeUnavailableError, type Exchange } from '../src/exchange/exchange.js';
import { createHttpExchange } from '../src/exchange/http-exchange.js';
import { loadSimulatorConfig, type SimulatorConfig } from '../src/exchange/simulator/config.js';
import { buildSimulator } from '../src/exchange/simulator/server.js';

let app: FastifyInstance;
let base: string;
let exchange: Exchange;

async function start(overrides: Partial<SimulatorConfig> = {}, timeoutMs = 2_000) {
  app = buildSimulator({ ...loadSimulatorConfig({ LOG_LEVEL: 'silent' }), ...overrides });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  exchange = createHttpExchange({ baseUrl: base, timeoutMs });
}

afterEach(async () => {
  const closing = app.close();
  // After a client-side timeout the fetch pool may hold a connection that never sent a request,
  // which a graceful close would wait out.
  app.server.closeAllConnections();
  await closing;
});

const setFaults = (faults: object) =>
  fetch(`${base}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
const executed = async () => (await (await fetch(`${base}/orders`)).json()) as { client_order_id: string }[];
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
const buy = (clientOrderId: string, notional = '12.00', crypto = 'ABAN') =>
  exchange.buy({ clientOrderId, crypto, notional });

describe('HTTP exchange driver', () => {
  test('reads prices', async () => {
    await start();
    expect(await exchange.prices()).toEqual([
      { crypto: 'ABAN', price: '4.00' },
      { crypto: 'BTC', price: '50000.00' },
      { crypto: 'ETH', price: '3000.00' },
    ]);
  });

  test('a $12 buy fills with the quantity $12 buys', async () => {
    await start();
    const fill = await buy('b-1');
    expect(fill).toEqual({
      exchangeOrderId: expect.any(String),
      clientOrderId: 'b-1',
      crypto: 'ABAN',
      notional: '12.00',
      price: '4.00',
      quantity: '3.00000000',
    });
  });

  test('a buy under the minimum is rejected as min_notional', async () => {
    await start();
    const error = await rejection(buy('b-2', '9.99'));
    expect(error).toBeInstanceOf(ExchangeRejectedError);
    expect(error).toMatchObject({ name: 'ExchangeRejectedError', code: 'min_notional' });
  });

  test('an unknown crypto is rejected', async () => {
    await start();
    const error = await rejection(buy('b-3', '12.00', 'DOGE'));
    expect(error).toBeInstanceOf(ExchangeRejectedError);
    expect(error).toMatchObject({ code: 'unknown_crypto' });
  });

  test('replaying a client order id returns the same fill and executes once', async () => {
    await start();
    const first = await buy('b-4');
    expect(await buy('b-4')).toEqual(first);
    expect(await executed()).toHaveLength(1);
  });

  test('reusing a client order id for different terms is rejected', async () => {
    await start();
    await buy('b-5');
    const error = await rejection(buy('b-5', '13.00'));
    expect(error).toBeInstanceOf(ExchangeRejectedError);
    expect(error).toMatchObject({ code: 'idempotency_conflict' });
    expect(await executed()).toHaveLength(1);
  });

  test('a 503 is unavailable and executes nothing', async () => {
    await start({ failureRate: 1 });
    await expect(buy('b-6')).rejects.toBeInstanceOf(ExchangeUnavailableError);
    expect(await executed()).toEqual([]);
  });

  test('a lost response is unavailable, yet the buy executed once and a retry returns it', async () => {
    await start({ dropRate: 1 });
    await expect(buy('b-7')).rejects.toBeInstanceOf(ExchangeUnavailableError);
    const [witness] = await executed();
    expect(witness).toMatchObject({ client_order_id: 'b-7', quantity: '3.00000000' });

    await setFaults({ drop_rate: 0 });
    const retried = await buy('b-7');
    expect(retried.exchangeOrderId).toBe((witness as { exchange_order_id?: string }).exchange_order_id);
    expect(await executed()).toHaveLength(1);
  });

  test('a slow exchange times out as unavailable', async () => {
    await start({ latencyMs: 500 }, 100);
    const started = Date.now();
    const error = await rejection(buy('b-8'));
    expect(error).toBeInstanceOf(ExchangeUnavailableError);
    expect((error as Error).message).toMatch(/timed out after 100ms/);
    await expect(exchange.prices()).resolves.toHaveLength(3); // latency applies to buys only
    expect(Date.now() - started).toBeLessThan(450);
  });

  test('an unreachable exchange is unavailable', async () => {
    await start();
    await app.close();
    await expect(exchange.prices()).rejects.toBeInstanceOf(ExchangeUnavailableError);
  });

  test('a malformed answer is unavailable', async () => {
    // Not the simulator: a server answering 200 with something that is neither a fill nor prices.
    app = Fastify();
    app.post('/orders', async () => ({ ok: true }));
    app.get('/prices', async () => [{ crypto: 'ABAN', price: 4 }]);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    exchange = createHttpExchange({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1_000 });
    await expect(buy('b-9')).rejects.toBeInstanceOf(ExchangeUnavailableError);
    await expect(exchange.prices()).rejects.toThrow(/malformed/);
  });
});
