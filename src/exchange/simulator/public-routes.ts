/** Binance's public market data: ping, time, exchangeInfo and the price tickers. */
import type { FastifyInstance } from 'fastify';
import type { SimulatorContext } from './context.js';
import { errors } from './errors.js';
import type { Market } from './state.js';
import { dayTicker, priceTicker, symbolInfo } from './views.js';

type Query = { symbol?: string; symbols?: string };

/** The markets a `symbol` or `symbols` (a JSON array) parameter names; every market when neither is sent. */
function selectMarkets({ state }: SimulatorContext, query: Query): { markets: Market[]; single: boolean } {
  if (query.symbol !== undefined && query.symbols !== undefined) throw errors.combination();
  if (query.symbol !== undefined) {
    const market = state.market(query.symbol);
    if (!market) throw errors.invalidSymbol();
    return { markets: [market], single: true };
  }
  if (query.symbols !== undefined) {
    let names: unknown;
    try {
      names = JSON.parse(query.symbols);
    } catch {
      names = undefined;
    }
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
      throw errors.illegalValue('symbols', query.symbols);
    }
    const markets = names.map((name: string) => state.market(name));
    if (markets.some((m) => m === undefined)) throw errors.invalidSymbol();
    return { markets: markets as Market[], single: false };
  }
  return { markets: state.markets(), single: false };
}

export function publicRoutes(app: FastifyInstance, ctx: SimulatorContext): void {
  const { config, state } = ctx;

  app.get('/api/v3/ping', async () => ({}));
  app.get('/api/v3/time', async () => ({ serverTime: Date.now() }));

  app.get<{ Querystring: Query }>('/api/v3/exchangeInfo', async (request) => ({
    timezone: 'UTC',
    serverTime: Date.now(),
    rateLimits: [
      { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
      { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
      { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
    ],
    exchangeFilters: [],
    symbols: selectMarkets(ctx, request.query).markets.map((m) => symbolInfo(m, config)),
  }));

  app.get<{ Querystring: Query }>('/api/v3/ticker/price', async (request) => {
    const { markets, single } = selectMarkets(ctx, request.query);
    const tickers = markets.map((m) => priceTicker(m, state.price(m.base)));
    return single ? tickers[0] : tickers;
  });

  app.get<{ Querystring: Query }>('/api/v3/ticker/24hr', async (request) => {
    const { markets, single } = selectMarkets(ctx, request.query);
    const now = Date.now();
    const tickers = markets.map((m) => dayTicker(m, state, now));
    return single ? tickers[0] : tickers;
  });
}
