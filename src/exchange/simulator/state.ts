import { formatDecimal, type Cents, type Units } from '../../domain/money.js';
import { SIM_DECIMALS, type SimulatorConfig } from './config.js';
import { errors } from './errors.js';

const UNITS_PER_CENT = 10n ** BigInt(SIM_DECIMALS - 2);
const RATE_SCALE = 10n ** BigInt(SIM_DECIMALS);

/** An amount in units of 1e-8 as Binance writes it: "12.00000000". */
export const format8 = (units: Units): string => formatDecimal(units, SIM_DECIMALS);
/** A price in cents as Binance writes it: "50000.00000000". */
export const formatPrice = (cents: Cents): string => format8(cents * UNITS_PER_CENT);
export const centsToUnits = (cents: Cents): Units => cents * UNITS_PER_CENT;

export interface Market {
  /** Binance's symbol, e.g. `BTCUSDT`. */
  symbol: string;
  base: string;
  quote: string;
  step: Units;
}

/** One executed market buy; it fills in one trade at one price. */
export interface SimOrder {
  symbol: string;
  crypto: string;
  orderId: number;
  tradeId: number;
  clientOrderId: string;
  transactTime: number;
  /** The quote amount asked for (`quoteOrderQty`). */
  quoteOrdered: Units;
  /** Quote spent: quantity × price, never more than asked. */
  quoteSpent: Units;
  quantity: Units;
  price: Cents;
  /** Charged in the crypto bought, out of `quantity`. */
  commission: Units;
  commissionAsset: string;
}

/** An executed order as `GET /admin/orders` lists it: the witness of every purchase. */
export interface ExecutedOrder {
  symbol: string;
  crypto: string;
  /** Binance's orderId, as a string (as ccxt reports it). */
  exchange_order_id: string;
  client_order_id: string;
  /** The quote amount asked for, 8 places. */
  notional: string;
  quote_spent: string;
  quantity: string;
  price: string;
  commission: string;
  commission_asset: string;
  transact_time: number;
}

/** The name the chaos harness knows the admin order list by. */
export type FillRecord = ExecutedOrder;

interface DayStats {
  open: Cents;
  high: Cents;
  low: Cents;
  volume: Units;
  quoteVolume: Units;
}

/** The simulated exchange: markets, prices, one account's balances, executed orders and their trades. */
export class SimulatorState {
  private readonly marketsBySymbol = new Map<string, Market>();
  private readonly prices: Map<string, Cents>;
  private readonly stats = new Map<string, DayStats>();
  private readonly balances = new Map<string, Units>();
  private readonly orders: SimOrder[] = [];
  /** Client order ids whose request is on its way to the matching engine. */
  private readonly inFlight = new Set<string>();
  private nextOrderId = 1;
  private nextTradeId = 1;
  readonly quoteAsset: string;

  constructor(private readonly config: SimulatorConfig) {
    this.quoteAsset = config.quoteAsset;
    this.prices = new Map(config.prices);
    this.balances.set(config.quoteAsset, config.quoteBalance);
    for (const [crypto, price] of config.prices) {
      const symbol = `${crypto}${config.quoteAsset}`;
      this.marketsBySymbol.set(symbol, {
        symbol,
        base: crypto,
        quote: config.quoteAsset,
        step: config.stepSizes.get(crypto)!,
      });
      this.stats.set(crypto, { open: price, high: price, low: price, volume: 0n, quoteVolume: 0n });
      this.balances.set(crypto, 0n);
    }
  }

  markets(): Market[] {
    return [...this.marketsBySymbol.values()];
  }

  market(symbol: string): Market | undefined {
    return this.marketsBySymbol.get(symbol);
  }

  price(crypto: string): Cents {
    return this.prices.get(crypto)!;
  }

  dayStats(crypto: string): DayStats & { count: number; firstId: number; lastId: number } {
    const trades = this.orders.filter((o) => o.crypto === crypto);
    return {
      ...this.stats.get(crypto)!,
      count: trades.length,
      firstId: trades[0]?.tradeId ?? -1,
      lastId: trades.at(-1)?.tradeId ?? -1,
    };
  }

  /** Sets a crypto's price; false when it is not traded here. */
  setPrice(crypto: string, price: Cents): boolean {
    if (!this.prices.has(crypto)) return false;
    this.movePrice(crypto, price);
    return true;
  }

  /** Moves every price by a random fraction in [-maxFraction, +maxFraction], never below one cent. */
  drift(maxFraction: number, random: () => number): void {
    for (const [crypto, price] of this.prices) {
      // The fraction is a ratio, not money: it is turned into integer parts per million before touching cents.
      const ppm = BigInt(Math.round((random() * 2 - 1) * maxFraction * 1_000_000));
      const next = price + (price * ppm) / 1_000_000n;
      this.movePrice(crypto, next > 0n ? next : 1n);
    }
  }

  private movePrice(crypto: string, price: Cents): void {
    this.prices.set(crypto, price);
    const stats = this.stats.get(crypto)!;
    if (price > stats.high) stats.high = price;
    if (price < stats.low) stats.low = price;
  }

  balanceList(): { asset: string; free: Units }[] {
    return [...this.balances].map(([asset, free]) => ({ asset, free }));
  }

  /** Marks a client order id as on its way; false when a request with it is already on its way. */
  claim(clientOrderId: string): boolean {
    if (this.inFlight.has(clientOrderId)) return false;
    this.inFlight.add(clientOrderId);
    return true;
  }

  release(clientOrderId: string): void {
    this.inFlight.delete(clientOrderId);
  }

  /**
   * Executes a market buy spending at most `quoteOrderQty` at the current price; throws BinanceError
   * when a filter or the balance refuses it. A client order id whose earlier order is filled is
   * accepted again, as on Binance, and makes a new order.
   */
  buy(market: Market, quoteOrderQty: Units, clientOrderId: string, now: number): SimOrder {
    if (quoteOrderQty < centsToUnits(this.config.minNotional)) throw errors.filter('NOTIONAL');
    const free = this.balances.get(market.quote) ?? 0n;
    if (free < quoteOrderQty) throw errors.insufficientBalance();

    const price = this.price(market.base);
    // quantity = quote / price, rounded down to the lot step so that no more than asked is spent.
    const exact = (quoteOrderQty * 100n) / price;
    const quantity = (exact / market.step) * market.step;
    if (quantity === 0n) throw errors.filter('LOT_SIZE');
    // Exact: steps have at most 6 places and prices 2, so the product has at most 8.
    const quoteSpent = (quantity * price) / 100n;
    // Rounded up to 8 places: the exchange never charges less than its rate.
    const commission = (quantity * this.config.commissionRate + RATE_SCALE - 1n) / RATE_SCALE;

    const order: SimOrder = {
      symbol: market.symbol,
      crypto: market.base,
      orderId: this.nextOrderId++,
      tradeId: this.nextTradeId++,
      clientOrderId,
      transactTime: now,
      quoteOrdered: quoteOrderQty,
      quoteSpent,
      quantity,
      price,
      commission,
      commissionAsset: market.base,
    };
    this.orders.push(order);
    this.balances.set(market.quote, free - quoteSpent);
    this.balances.set(market.base, (this.balances.get(market.base) ?? 0n) + quantity - commission);
    const stats = this.stats.get(market.base)!;
    stats.volume += quantity;
    stats.quoteVolume += quoteSpent;
    return order;
  }

  orderById(symbol: string, orderId: number): SimOrder | undefined {
    return this.orders.find((o) => o.orderId === orderId && o.symbol === symbol);
  }

  /** With several orders under one client order id (each placed after the previous one filled), the latest. */
  orderByClientId(symbol: string, clientOrderId: string): SimOrder | undefined {
    return this.orders.findLast((o) => o.clientOrderId === clientOrderId && o.symbol === symbol);
  }

  ordersOf(symbol: string): SimOrder[] {
    return this.orders.filter((o) => o.symbol === symbol);
  }

  executed(): ExecutedOrder[] {
    return this.orders.map((o) => ({
      symbol: o.symbol,
      crypto: o.crypto,
      exchange_order_id: String(o.orderId),
      client_order_id: o.clientOrderId,
      notional: format8(o.quoteOrdered),
      quote_spent: format8(o.quoteSpent),
      quantity: format8(o.quantity),
      price: formatPrice(o.price),
      commission: format8(o.commission),
      commission_asset: o.commissionAsset,
      transact_time: o.transactTime,
    }));
  }
}
