import * as ccxt from 'ccxt';
import type { Exchange as CcxtClient, MarketInterface, Order, Trade } from 'ccxt';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatUsd, readUsd, roundDecimal, USD_DECIMALS } from '../domain/money.js';
import { refused, translateError, type DriverLogger } from './ccxt-errors.js';
import { executedNothing, fillOf, type Expected } from './ccxt-fill.js';
import {
  ExchangeUnavailableError,
  type BuyRequest,
  type EarlierAttempt,
  type Exchange,
  type Fill,
  type MarketQuote,
} from './exchange.js';

export type { DriverLogger } from './ccxt-errors.js';

export interface CcxtExchangeOptions {
  /** A ccxt exchange id: `binance`, `kraken`... */
  exchangeId: string;
  apiKey: string;
  secret: string;
  /** The exchange's test network (ccxt's sandbox mode), e.g. Binance's spot testnet. */
  sandbox: boolean;
  /**
   * Overrides where the API is: for binance the spot API (`<url>/api/v3`), for any other exchange
   * the scheme, host and port of every API URL ccxt knows for it (paths kept).
   */
  url?: string;
  /** The quote currency every crypto is bought with, e.g. `USDT`; priced as USD one to one. */
  quote: string;
  /** Crypto → market symbol where it is not `<CRYPTO>/<quote>`. */
  markets: Record<string, string>;
  timeoutMs: number;
  /** How long after its timestamp the exchange may still execute a signed request. */
  recvWindowMs: number;
  /** Allowance for the clocks that stamp `signedBefore` and the exchange's clock to disagree. */
  clockMarginMs: number;
  logger?: DriverLogger;
}

export interface CcxtExchange extends Exchange {
  /** The ccxt client, for the operator's check (balances, market details); buys go through `buy`. */
  readonly client: CcxtClient;
  /** The market symbol a crypto is bought on. */
  symbolFor(crypto: string): string;
  /** Loads the markets (once) and the exchange's clock; a failed load is retried on the next call. */
  ready(): Promise<void>;
}

const consoleLogger: DriverLogger = {
  error: (message, meta) => console.error(JSON.stringify({ level: 'error', message, ...meta })),
  warn: (message, meta) => console.warn(JSON.stringify({ level: 'warn', message, ...meta })),
};

/** The exchange's clock is measured again when the last measure is older than this. */
const CLOCK_RESYNC_MS = 10 * 60_000;

function createClient(options: CcxtExchangeOptions): CcxtClient {
  const classes = ccxt.exchanges as unknown as Record<string, new (config: object) => CcxtClient>;
  const Client = Object.hasOwn(classes, options.exchangeId) ? classes[options.exchangeId] : undefined;
  if (typeof Client !== 'function') {
    throw new Error(`EXCHANGE_ID "${options.exchangeId}" is not an exchange ccxt ${ccxt.version} knows`);
  }
  const client = new Client({
    apiKey: options.apiKey,
    secret: options.secret,
    timeout: options.timeoutMs,
    enableRateLimit: true,
    options: {
      defaultType: 'spot',
      // Spot markets only: no futures or options exchange info, no margin pairs (they need sapi
      // permissions), and no currency list (a private sapi call that needs extra permissions).
      fetchMarkets: { types: ['spot'] },
      fetchMargins: false,
      fetchCurrencies: false,
      // Requests carry the exchange's time, so a skewed worker clock does not get them refused.
      adjustForTimeDifference: true,
      recvWindow: options.recvWindowMs,
    },
  });
  if (!client.has.createMarketBuyOrderWithCost || !client.has.fetchOrder) {
    throw new Error(
      `EXCHANGE_ID "${options.exchangeId}": ccxt cannot buy for a quote amount or look orders up there`,
    );
  }
  if (options.sandbox) client.setSandboxMode(true);
  if (options.url) overrideUrl(client, options.url.replace(/\/+$/, ''));
  return client;
}

function overrideUrl(client: CcxtClient, base: string): void {
  const api = client.urls.api as Record<string, unknown>;
  if (client.id === 'binance') {
    api.public = `${base}/api/v3`;
    api.private = `${base}/api/v3`;
    return;
  }
  const replace = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replace(/^https?:\/\/[^/]+/, base);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replace(v)]));
    }
    return value;
  };
  client.urls.api = replace(api) as typeof client.urls.api;
}

/** A decimal the exchange reported (as a ccxt float) in cents, rounded as asked; undefined if none. */
function cents(value: number | undefined, rounding: 'up' | 'half-up'): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  const text = ccxt.functions.numberToString(value);
  return text === undefined ? undefined : roundDecimal(text, USD_DECIMALS, rounding);
}

export function createCcxtExchange(options: CcxtExchangeOptions): CcxtExchange {
  const log = options.logger ?? consoleLogger;
  const client = createClient(options);
  const deadlineMargin = options.recvWindowMs + options.clockMarginMs;
  let loading: Promise<void> | undefined;
  let clockMeasuredAt = 0;

  const symbolFor = (crypto: string) => options.markets[crypto] ?? `${crypto}/${options.quote}`;

  async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof ccxt.InvalidNonce) clockMeasuredAt = 0;
      throw translateError(error, what, log);
    }
  }

  /** Requests carry the exchange's time anyway; a signedBefore stamped this far off is not covered. */
  function checkClock(): void {
    clockMeasuredAt = Date.now();
    const difference = Number(client.options.timeDifference ?? 0); // this host's clock minus the exchange's
    if (Math.abs(difference) > options.clockMarginMs) {
      log.warn(
        `this host's clock is ${difference} ms off the exchange's, more than EXCHANGE_CLOCK_MARGIN: requests are stamped with the exchange's time, but a retry's signedBefore read from this clock is not covered`,
        { differenceMs: difference },
      );
    }
  }

  async function syncClock(): Promise<void> {
    await call('reading the exchange clock', () => client.loadTimeDifference());
    checkClock();
  }

  /**
   * ccxt keeps a failed loadMarkets promise and would hand it back forever, so the load is tracked
   * here and a failure lets the next call load again.
   */
  async function ready(): Promise<void> {
    loading ??= (async () => {
      await call('loading markets', () => client.loadMarkets(true));
      checkClock(); // loadMarkets measured it (adjustForTimeDifference)
    })().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    await loading;
    if (Date.now() - clockMeasuredAt > CLOCK_RESYNC_MS) await syncClock();
  }

  const marketAt = (symbol: string): MarketInterface | undefined => client.markets?.[symbol];

  function marketOf(crypto: string, action: string): MarketInterface {
    const symbol = symbolFor(crypto);
    const market = marketAt(symbol);
    if (!market) {
      throw refused(
        'BadSymbol',
        `${action}: ${client.id} has no spot market ${symbol} for ${crypto}: check EXCHANGE_MARKETS and EXCHANGE_QUOTE`,
        log,
      );
    }
    if (market.active === false) {
      throw refused('MarketClosed', `${action}: ${client.id} market ${symbol} is not trading`, log);
    }
    return market;
  }

  /** The order placed under a client order id, or undefined when the exchange says it has none. */
  async function orderByClientId(clientOrderId: string, symbol: string): Promise<Order | undefined> {
    try {
      // ccxt's binance sends clientOrderId as origClientOrderId (GET /api/v3/order); the order id is unused.
      return await client.fetchOrder('', symbol, { clientOrderId });
    } catch (error) {
      if (error instanceof ccxt.OrderNotFound) return undefined;
      throw translateError(error, `looking up order ${clientOrderId} on ${symbol}`, log);
    }
  }

  /** The order's trades: in the order itself when the exchange sent them, else asked for. */
  async function tradesOf(order: Order, symbol: string): Promise<Trade[]> {
    if (order.trades && order.trades.length > 0) return order.trades;
    const id = order.id;
    if (id === undefined)
      throw new ExchangeUnavailableError(`exchange sent order ${order.clientOrderId} without an id`);
    const trades = await call(`reading the trades of order ${id}`, () =>
      client.has.fetchOrderTrades
        ? client.fetchOrderTrades(id, symbol)
        : client.fetchMyTrades(symbol, order.timestamp),
    );
    return trades.filter((t) => t.order === undefined || t.order === order.id);
  }

  async function exchangeTime(): Promise<number> {
    const time = await call('reading the exchange clock', () => client.fetchTime());
    if (time === undefined) throw new ExchangeUnavailableError('exchange sent no server time');
    return time;
  }

  /**
   * The fill recorded under a client order id. "None" is trusted only from a lookup made once the
   * exchange's clock has passed `signedBefore + recvWindow + margin`: until then a request signed
   * earlier may still reach the matching engine and execute, so the lookup waits and asks again.
   * The clock is read before the lookup, so a lookup after the deadline is what says "none".
   */
  async function lookup(expected: Expected, earlier: EarlierAttempt): Promise<Order | undefined> {
    const deadline = earlier.signedBefore + deadlineMargin;
    for (;;) {
      const now = await exchangeTime();
      const order = await orderByClientId(expected.clientOrderId, expected.symbol);
      if (order) return order;
      if (now > deadline) return undefined;
      await sleep(deadline - now + 1);
    }
  }

  async function toFill(order: Order, expected: Expected): Promise<Fill> {
    return fillOf(order, await tradesOf(order, expected.symbol), expected, options.quote);
  }

  return {
    client,
    symbolFor,
    ready,

    async markets(cryptos: string[]): Promise<MarketQuote[]> {
      await ready();
      const listed = cryptos.filter((crypto) => marketAt(symbolFor(crypto)));
      const missing = cryptos.filter((crypto) => !listed.includes(crypto));
      if (missing.length > 0) {
        log.warn(
          `${client.id} has no market for ${missing.join(', ')}: check EXCHANGE_MARKETS and EXCHANGE_QUOTE`,
        );
      }
      if (listed.length === 0) return [];
      const symbols = listed.map(symbolFor);
      const tickers = await call(`reading prices of ${symbols.join(', ')}`, () =>
        client.fetchTickers(symbols),
      );
      const quotes: MarketQuote[] = [];
      for (const crypto of listed) {
        const symbol = symbolFor(crypto);
        const market = marketAt(symbol)!;
        const price = cents(tickers[symbol]?.last ?? tickers[symbol]?.close, 'half-up');
        if (price === undefined || price <= 0n) {
          log.warn(`${client.id} sent no last price for ${symbol}`);
          continue;
        }
        quotes.push({
          crypto,
          symbol,
          price: formatUsd(price),
          minNotional: formatUsd(cents(market.limits?.cost?.min, 'up') ?? 0n),
        });
      }
      return quotes;
    },

    async buy(req: BuyRequest): Promise<Fill> {
      const action = `buying ${req.notional} ${options.quote} of ${req.crypto} as ${req.clientOrderId}`;
      await ready();
      const market = marketOf(req.crypto, action);
      const notional = readUsd(req.notional);
      const expected: Expected = {
        clientOrderId: req.clientOrderId,
        crypto: req.crypto,
        symbol: market.symbol,
        notional: notional * 10n ** 6n,
      };
      if (req.retryOf) {
        const earlier = await lookup(expected, req.retryOf);
        if (earlier) {
          if (executedNothing(earlier)) {
            throw refused(
              'OrderNotFilled',
              `${action}: order ${earlier.id} executed nothing (${earlier.status})`,
              log,
            );
          }
          return toFill(earlier, expected);
        }
      }
      const order = await call(action, () =>
        // The cost goes as the decimal string it is: ccxt reads it with safeString/numberToString,
        // which keep a string as given. Our client order id is sent as is (binance's newClientOrderId);
        // ccxt generates one (with its broker prefix) only when none is given.
        client.createMarketBuyOrderWithCost(market.symbol, req.notional as unknown as number, {
          clientOrderId: req.clientOrderId,
        }),
      );
      if (executedNothing(order)) {
        throw refused(
          'OrderNotFilled',
          `${action}: order ${order.id} executed nothing (${order.status})`,
          log,
        );
      }
      return toFill(order, expected);
    },

    async findFill(
      clientOrderId: string,
      crypto: string,
      earlier: EarlierAttempt,
    ): Promise<Fill | undefined> {
      await ready();
      const market = marketOf(crypto, `looking up ${clientOrderId}`);
      const expected: Expected = { clientOrderId, crypto, symbol: market.symbol };
      const order = await lookup(expected, earlier);
      if (!order || executedNothing(order)) return undefined;
      return toFill(order, expected);
    },
  };
}
