import { createHmac } from 'node:crypto';
import ccxt from 'ccxt';
import type { FastifyInstance } from 'fastify';
import { readQuantity } from '../src/domain/money.js';
import { loadSimulatorConfig, type SimulatorConfig } from '../src/exchange/simulator/config.js';
import { buildSimulator } from '../src/exchange/simulator/server.js';
import type { ExecutedOrder } from '../src/exchange/simulator/state.js';

const KEY = 'sim-key';
const SECRET = 'sim-secret';

let app: FastifyInstance | undefined;
let base: string;

async function start(
  env: Record<string, string> = {},
  overrides: Partial<SimulatorConfig> = {},
  random?: () => number,
) {
  app = buildSimulator({ ...loadSimulatorConfig({ LOG_LEVEL: 'silent', ...env }), ...overrides }, { random });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

type Params = Record<string, string | number>;

interface SignOptions {
  key?: string | null;
  secret?: string;
  timestamp?: number;
}

/** Binance's SIGNED query: the parameters, a timestamp, then HMAC-SHA256 of all that as `signature`. */
function signed(params: Params, { secret = SECRET, timestamp = Date.now() }: SignOptions = {}): string {
  const query = new URLSearchParams(
    Object.entries({ ...params, timestamp }).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  return `${query}&signature=${createHmac('sha256', secret).update(query).digest('hex')}`;
}

const keyHeader = (key: string | null | undefined): Record<string, string> =>
  key === null ? {} : { 'X-MBX-APIKEY': key ?? KEY };

const signedGet = (path: string, params: Params = {}, options: SignOptions = {}) =>
  fetch(`${base}/api/v3/${path}?${signed(params, options)}`, { headers: keyHeader(options.key) });

const signedPost = (path: string, params: Params, options: SignOptions = {}) =>
  fetch(`${base}/api/v3/${path}`, {
    method: 'POST',
    headers: { ...keyHeader(options.key), 'content-type': 'application/x-www-form-urlencoded' },
    body: signed(params, options),
  });

const buy = (clientOrderId: string, quoteOrderQty: string, symbol = 'BTCUSDT', extra: Params = {}) =>
  signedPost('order', {
    symbol,
    side: 'BUY',
    type: 'MARKET',
    quoteOrderQty,
    newClientOrderId: clientOrderId,
    newOrderRespType: 'FULL',
    ...extra,
  });

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
const executed = async () => (await (await fetch(`${base}/admin/orders`)).json()) as ExecutedOrder[];
const balances = async () => {
  const { body } = await json(await signedGet('account'));
  return Object.fromEntries(
    (body.balances as { asset: string; free: string }[]).map((b) => [b.asset, b.free]),
  );
};
const putJson = (path: string, body: unknown) =>
  fetch(base + path, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('exchange simulator: configuration', () => {
  test('reads steps, commission and balance exactly, and refuses what would break exact fills', () => {
    const config = loadSimulatorConfig({
      EXCHANGE_SIM_PRICES: 'BTC=50000.00,Q1=1.00',
      EXCHANGE_SIM_STEP_SIZES: 'BTC=0.00001',
      EXCHANGE_SIM_COMMISSION: '0.00075',
      EXCHANGE_SIM_QUOTE_BALANCE: '0',
    });
    expect(config.stepSizes).toEqual(
      new Map([
        ['BTC', 1000n],
        ['Q1', 100n], // a crypto without a step of its own trades in steps of 0.000001
      ]),
    );
    expect(config.commissionRate).toBe(75_000n);
    expect(config.quoteBalance).toBe(0n);
    // Quantity × a 2-place price must stay within 8 places.
    expect(() => loadSimulatorConfig({ EXCHANGE_SIM_STEP_SIZES: 'BTC=0.0000001' })).toThrow(
      /EXCHANGE_SIM_STEP_SIZES: "BTC=0.0000001"/,
    );
    expect(() => loadSimulatorConfig({ EXCHANGE_SIM_COMMISSION: '1.5' })).toThrow(
      /EXCHANGE_SIM_COMMISSION: "1.5"/,
    );
    expect(() => loadSimulatorConfig({ EXCHANGE_SIM_QUOTE_BALANCE: '-1' })).toThrow(
      /EXCHANGE_SIM_QUOTE_BALANCE/,
    );
    expect(() => loadSimulatorConfig({ EXCHANGE_SIM_QUOTE: 'usd t' })).toThrow(/EXCHANGE_SIM_QUOTE/);
  });
});

describe('exchange simulator: market data', () => {
  test('exchangeInfo lists one spot market per crypto with its filters', async () => {
    await start();
    const { status, body } = await json(await fetch(`${base}/api/v3/exchangeInfo`));
    expect(status).toBe(200);
    expect(body.symbols.map((s: any) => s.symbol)).toEqual(['ABANUSDT', 'BTCUSDT', 'ETHUSDT']);
    const btc = body.symbols[1];
    expect(btc).toMatchObject({
      status: 'TRADING',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      isSpotTradingAllowed: true,
      quoteOrderQtyMarketAllowed: true,
      permissionSets: [['SPOT']],
    });
    expect(btc.orderTypes).toContain('MARKET');
    const filters = Object.fromEntries(btc.filters.map((f: any) => [f.filterType, f]));
    expect(filters.PRICE_FILTER.tickSize).toBe('0.01000000');
    expect(filters.LOT_SIZE).toMatchObject({ stepSize: '0.00001000', minQty: '0.00001000' });
    expect(filters.MARKET_LOT_SIZE).toBeDefined();
    expect(filters.NOTIONAL).toMatchObject({ minNotional: '10.00000000', applyMinToMarket: true });

    const one = await json(await fetch(`${base}/api/v3/exchangeInfo?symbol=ETHUSDT`));
    expect(one.body.symbols.map((s: any) => s.symbol)).toEqual(['ETHUSDT']);
    expect(await (await fetch(`${base}/api/v3/ping`)).json()).toEqual({});
    expect(typeof ((await (await fetch(`${base}/api/v3/time`)).json()) as any).serverTime).toBe('number');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  test('tickers quote the configured prices with 8 places, for one, some or all symbols', async () => {
    await start({ EXCHANGE_SIM_PRICES: 'ABAN=4.00,BTC=51234.56,ETH=2999.99' });
    expect((await json(await fetch(`${base}/api/v3/ticker/price?symbol=BTCUSDT`))).body).toEqual({
      symbol: 'BTCUSDT',
      price: '51234.56000000',
    });
    const all = await json(await fetch(`${base}/api/v3/ticker/price`));
    expect(all.body).toEqual([
      { symbol: 'ABANUSDT', price: '4.00000000' },
      { symbol: 'BTCUSDT', price: '51234.56000000' },
      { symbol: 'ETHUSDT', price: '2999.99000000' },
    ]);
    const some = encodeURIComponent(JSON.stringify(['ETHUSDT', 'ABANUSDT']));
    const day = await json(await fetch(`${base}/api/v3/ticker/24hr?symbols=${some}`));
    expect(day.body.map((t: any) => [t.symbol, t.lastPrice])).toEqual([
      ['ETHUSDT', '2999.99000000'],
      ['ABANUSDT', '4.00000000'],
    ]);
    const btc = (await json(await fetch(`${base}/api/v3/ticker/24hr?symbol=BTCUSDT`))).body;
    expect(btc).toMatchObject({
      lastPrice: '51234.56000000',
      bidPrice: '51234.56000000',
      priceChangePercent: '0.000',
    });
    expect(btc.bidQty).toBeDefined();
    expect((await json(await fetch(`${base}/api/v3/ticker/price?symbol=DOGEUSDT`))).body).toEqual({
      code: -1121,
      msg: 'Invalid symbol.',
    });
  });

  test('drift moves prices on every tick', async () => {
    await start({ EXCHANGE_SIM_PRICE_DRIFT: '0.01', EXCHANGE_SIM_PRICE_TICK_MS: '10' }, {}, () => 1);
    const price = async () =>
      (await json(await fetch(`${base}/api/v3/ticker/price?symbol=BTCUSDT`))).body.price;
    let seen = await price();
    while (seen === '50000.00000000') {
      await sleep(10);
      seen = await price();
    }
    // The top of the range moves every price up by 1% a tick.
    expect(readQuantity(seen)).toBeGreaterThanOrEqual(readQuantity('50500.00000000'));
  });
});

describe('exchange simulator: market buys', () => {
  test('fills a buy for a quote amount: quantity rounded down to the step, commission in the crypto', async () => {
    await start();
    const { status, body } = await json(await buy('order-1', '12.34', 'ETHUSDT'));
    expect(status).toBe(200);
    // 12.34 / 3000 = 0.0041133…, down to the 0.0001 step; 0.0041 × 3000 = 12.3 spent.
    expect(body).toMatchObject({
      symbol: 'ETHUSDT',
      clientOrderId: 'order-1',
      orderListId: -1,
      status: 'FILLED',
      type: 'MARKET',
      side: 'BUY',
      origQty: '0.00410000',
      executedQty: '0.00410000',
      origQuoteOrderQty: '12.34000000',
      cummulativeQuoteQty: '12.30000000',
      fills: [
        {
          price: '3000.00000000',
          qty: '0.00410000',
          commission: '0.00000410',
          commissionAsset: 'ETH',
          tradeId: 1,
        },
      ],
    });
    expect(body.orderId).toBe(1);
    expect(typeof body.transactTime).toBe('number');
    expect(await balances()).toMatchObject({ USDT: '999987.70000000', ETH: '0.00409590', BTC: '0.00000000' });

    const second = await json(await buy('order-2', '10', 'BTCUSDT'));
    expect(second.body.orderId).toBe(2);
    expect(second.body.executedQty).toBe('0.00020000');
    expect(await executed()).toEqual([
      expect.objectContaining({
        client_order_id: 'order-1',
        exchange_order_id: '1',
        symbol: 'ETHUSDT',
        quote_spent: '12.30000000',
        quantity: '0.00410000',
        commission: '0.00000410',
      }),
      expect.objectContaining({
        client_order_id: 'order-2',
        exchange_order_id: '2',
        notional: '10.00000000',
      }),
    ]);
  });

  test('rounds the commission up to 8 places', async () => {
    await start({ EXCHANGE_SIM_COMMISSION: '0.00123456' });
    const { body } = await json(await buy('c-1', '12.34', 'ETHUSDT'));
    // 0.0041 × 0.00123456 = 0.000005061696
    expect(body.fills[0].commission).toBe('0.00000507');
  });

  test('a buy at a price set by the admin endpoint fills at that price', async () => {
    await start();
    const res = await putJson('/admin/prices', { BTC: '40000.00' });
    expect(await res.json()).toEqual({ ABAN: '4.00', BTC: '40000.00', ETH: '3000.00' });
    const { body } = await json(await buy('s-1', '12.00'));
    expect(body).toMatchObject({ executedQty: '0.00030000', cummulativeQuoteQty: '12.00000000' });
    expect((await putJson('/admin/prices', { DOGE: '1.00' })).status).toBe(400);
    expect((await putJson('/admin/prices', { BTC: '1e3' })).status).toBe(400);
  });

  test('looks an order up by client order id or order id, and lists its trades', async () => {
    await start();
    const placed = (await json(await buy('order-7', '25.00'))).body;
    const byClient = await json(
      await signedGet('order', { symbol: 'BTCUSDT', origClientOrderId: 'order-7' }),
    );
    expect(byClient.status).toBe(200);
    expect(byClient.body).toMatchObject({
      orderId: placed.orderId,
      clientOrderId: 'order-7',
      status: 'FILLED',
      executedQty: '0.00050000',
      cummulativeQuoteQty: '25.00000000',
      origQuoteOrderQty: '25.00000000',
    });
    const byId = await json(await signedGet('order', { symbol: 'BTCUSDT', orderId: placed.orderId }));
    expect(byId.body).toEqual(byClient.body);

    await buy('order-8', '11.00', 'ETHUSDT');
    const trades = await json(await signedGet('myTrades', { symbol: 'BTCUSDT', orderId: placed.orderId }));
    expect(trades.body).toEqual([
      expect.objectContaining({
        symbol: 'BTCUSDT',
        orderId: placed.orderId,
        price: '50000.00000000',
        qty: '0.00050000',
        quoteQty: '25.00000000',
        commission: '0.00000050',
        commissionAsset: 'BTC',
        isBuyer: true,
      }),
    ]);
    expect((await json(await signedGet('myTrades', { symbol: 'ETHUSDT' }))).body).toHaveLength(1);
  });

  test('a client order id whose order has filled is accepted again and makes a new order', async () => {
    await start();
    const first = (await json(await buy('order-9', '12.00'))).body;
    const second = (await json(await buy('order-9', '12.00'))).body;
    expect(second.status).toBe('FILLED');
    expect(second.orderId).not.toBe(first.orderId);
    expect((await executed()).map((o) => o.client_order_id)).toEqual(['order-9', 'order-9']);
    // The lookup by client order id answers the latest of them.
    const found = await json(await signedGet('order', { symbol: 'BTCUSDT', origClientOrderId: 'order-9' }));
    expect(found.body.orderId).toBe(second.orderId);
  });

  test('ccxt binance class reads every answer it needs', async () => {
    await start();
    const exchange = new ccxt.binance({
      apiKey: KEY,
      secret: SECRET,
      urls: { api: { public: `${base}/api/v3`, private: `${base}/api/v3` } },
      options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
    });
    const markets = await exchange.loadMarkets();
    expect(Object.keys(markets).sort()).toEqual(['ABAN/USDT', 'BTC/USDT', 'ETH/USDT']);
    expect(markets['BTC/USDT']).toMatchObject({
      spot: true,
      active: true,
      precision: { amount: 0.00001, price: 0.01 },
      limits: { cost: { min: 10 } },
    });
    expect((await exchange.fetchTicker('BTC/USDT')).last).toBe(50000);
    const tickers = await exchange.fetchTickers(['BTC/USDT', 'ETH/USDT']);
    expect(Object.values(tickers).map((t) => [t.symbol, t.last])).toEqual([
      ['BTC/USDT', 50000],
      ['ETH/USDT', 3000],
    ]);
    expect((await exchange.fetchBalance())['USDT']).toMatchObject({ free: 1000000, used: 0 });

    const order = await exchange.createMarketBuyOrderWithCost('BTC/USDT', 12, { clientOrderId: 'order-42' });
    expect(order).toMatchObject({ clientOrderId: 'order-42', status: 'closed', filled: 0.00024, cost: 12 });
    expect(order.fee).toMatchObject({ currency: 'BTC', cost: 0.00000024 });

    const found = await exchange.fetchOrder('', 'BTC/USDT', { origClientOrderId: 'order-42' });
    expect(found).toMatchObject({
      id: order.id,
      clientOrderId: 'order-42',
      status: 'closed',
      filled: 0.00024,
    });
    expect((await exchange.fetchOrder(order.id!, 'BTC/USDT')).clientOrderId).toBe('order-42');
    const trades = await exchange.fetchOrderTrades(order.id!, 'BTC/USDT');
    expect(trades).toHaveLength(1);
    expect(trades[0]!.fee).toMatchObject({ currency: 'BTC', cost: 0.00000024 });

    await expect(
      exchange.fetchOrder('', 'BTC/USDT', { origClientOrderId: 'order-43' }),
    ).rejects.toBeInstanceOf(ccxt.OrderNotFound);
    await expect(exchange.createMarketBuyOrderWithCost('BTC/USDT', 2_000_000)).rejects.toBeInstanceOf(
      ccxt.InsufficientFunds,
    );
    await expect(exchange.createMarketBuyOrderWithCost('BTC/USDT', 5)).rejects.toBeInstanceOf(
      ccxt.BadRequest,
    );
    await putJson('/admin/faults', { failure_rate: 1 });
    await expect(exchange.createMarketBuyOrderWithCost('BTC/USDT', 12)).rejects.toBeInstanceOf(
      ccxt.ExchangeNotAvailable,
    );
  });
});

describe('exchange simulator: refusals in Binance shape', () => {
  const codeOf = async (res: Response) => {
    const { status, body } = await json(res);
    return [status, body.code, body.msg];
  };

  test('keys, signatures and timestamps', async () => {
    await start();
    expect(await codeOf(await signedGet('account', {}, { secret: 'wrong' }))).toEqual([
      400,
      -1022,
      'Signature for this request is not valid.',
    ]);
    expect(await codeOf(await signedGet('account', {}, { key: 'other-key' }))).toEqual([
      401,
      -2015,
      'Invalid API-key, IP, or permissions for action.',
    ]);
    expect(await codeOf(await signedGet('account', {}, { key: null }))).toEqual([
      401,
      -2014,
      'API-key format invalid.',
    ]);
    expect(
      await codeOf(await signedGet('account', { recvWindow: 5000 }, { timestamp: Date.now() - 10_000 })),
    ).toEqual([400, -1021, 'Timestamp for this request is outside of the recvWindow.']);
    expect(await codeOf(await signedGet('account', {}, { timestamp: Date.now() + 5_000 }))).toEqual([
      400,
      -1021,
      "Timestamp for this request was 1000ms ahead of the server's time.",
    ]);
    // A signature over other parameters than those sent.
    const tampered = signed({ symbol: 'BTCUSDT', orderId: 1 }).replace('orderId=1', 'orderId=2');
    const res = await fetch(`${base}/api/v3/order?${tampered}`, { headers: keyHeader(KEY) });
    expect((await codeOf(res))[1]).toBe(-1022);
    expect(await executed()).toEqual([]);
  });

  test('orders the simulator refuses', async () => {
    await start({ EXCHANGE_SIM_QUOTE_BALANCE: '25.00' });
    expect(await codeOf(await buy('x-1', '12.00', 'DOGEUSDT'))).toEqual([400, -1121, 'Invalid symbol.']);
    expect(await codeOf(await buy('x-1', '9.99'))).toEqual([400, -1013, 'Filter failure: NOTIONAL']);
    expect((await codeOf(await buy('x-1', '1e3')))[1]).toBe(-1100);
    expect((await codeOf(await buy('x-1', '12.00', 'BTCUSDT', { type: 'LIMIT' })))[1]).toBe(-1014);
    expect((await codeOf(await buy('x-1', '12.00', 'BTCUSDT', { side: 'SELL' })))[1]).toBe(-1014);
    expect((await codeOf(await buy('x-1', '12.00', 'BTCUSDT', { type: 'BOGUS' })))[1]).toBe(-1116);
    expect((await codeOf(await buy('x-1', '12.00')))[0]).toBe(200);
    expect(await codeOf(await buy('x-2', '14.00'))).toEqual([
      400,
      -2010,
      'Account has insufficient balance for requested action.',
    ]);
    expect(await codeOf(await signedGet('order', { symbol: 'BTCUSDT', origClientOrderId: 'x-2' }))).toEqual([
      400,
      -2013,
      'Order does not exist.',
    ]);
    expect((await codeOf(await signedGet('order', { symbol: 'BTCUSDT', orderId: 99 })))[1]).toBe(-2013);
    expect((await codeOf(await signedGet('order', { symbol: 'BTCUSDT' })))[1]).toBe(-1102);
    expect((await executed()).map((o) => o.client_order_id)).toEqual(['x-1']);
    expect(await codeOf(await fetch(`${base}/prices`))).toEqual([
      404,
      -1000,
      'Unknown endpoint: GET /prices',
    ]);
  });

  test('a client order id whose request is still on its way is a duplicate', async () => {
    await start({ EXCHANGE_SIM_LATENCY_MS: '2500' });
    const first = buy('order-5', '12.00');
    // Well inside the first request's latency, so it is on its way when the second arrives.
    await sleep(800);
    expect(await codeOf(await buy('order-5', '12.00'))).toEqual([400, -2010, 'Duplicate order sent.']);
    expect((await json(await first)).body.status).toBe('FILLED');
    expect(await executed()).toHaveLength(1);
  });
});

describe('exchange simulator: injected faults', () => {
  test('latency comes before the recvWindow check: a request held past its window never executes', async () => {
    await start({ EXCHANGE_SIM_LATENCY_MS: '400' });
    const late = await json(await buy('order-1', '12.00', 'BTCUSDT', { recvWindow: 200 }));
    expect(late.body).toEqual({
      code: -1021,
      msg: 'Timestamp for this request is outside of the recvWindow.',
    });
    expect(await executed()).toEqual([]);

    const inTime = await json(await buy('order-1', '12.00', 'BTCUSDT', { recvWindow: 10_000 }));
    expect(inTime.body.status).toBe('FILLED');
    expect((await executed()).map((o) => o.client_order_id)).toEqual(['order-1']);
  });

  test('failures answer 503 without executing; faults switch at runtime', async () => {
    await start({ EXCHANGE_SIM_FAILURE_RATE: '1' });
    const res = await buy('f-1', '12.00');
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('Service Unavailable');
    expect(await executed()).toEqual([]);

    const now = await putJson('/admin/faults', { failure_rate: 0 });
    expect(await now.json()).toEqual({ failure_rate: 0, drop_rate: 0, latency_ms: 0 });
    expect((await buy('f-1', '12.00')).status).toBe(200);
    expect((await putJson('/admin/faults', { failure_rate: 2 })).status).toBe(400);
  });

  test('fault rates are drawn from the injected randomness', async () => {
    const draws = [0.6, 0.4];
    await start({ EXCHANGE_SIM_FAILURE_RATE: '0.5' }, {}, () => draws.shift()!);
    expect((await buy('r-1', '12.00')).status).toBe(200); // 0.6 ≥ 0.5 passes
    expect((await buy('r-2', '12.00')).status).toBe(503); // 0.4 < 0.5 fails
  });

  test('a dropped answer still executes the buy', async () => {
    await start({ EXCHANGE_SIM_DROP_RATE: '1' });
    await expect(buy('d-1', '12.00')).rejects.toThrow();
    expect((await executed()).map((o) => o.client_order_id)).toEqual(['d-1']);
  });
});
