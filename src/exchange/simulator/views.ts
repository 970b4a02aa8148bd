/** Binance's JSON for markets, tickers, orders and trades, built from the simulator's state. */
import type { Cents } from '../../domain/money.js';
import type { SimulatorConfig } from './config.js';
import {
  centsToUnits,
  format8,
  formatPrice,
  type Market,
  type SimOrder,
  type SimulatorState,
} from './state.js';

const ZERO = format8(0n);
const MAX_QTY = '9000000.00000000';

export function symbolInfo(market: Market, config: SimulatorConfig) {
  return {
    symbol: market.symbol,
    status: 'TRADING',
    baseAsset: market.base,
    baseAssetPrecision: 8,
    quoteAsset: market.quote,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    // Only market orders are simulated, so only they are offered.
    orderTypes: ['MARKET'],
    icebergAllowed: false,
    ocoAllowed: false,
    otoAllowed: false,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: false,
    cancelReplaceAllowed: false,
    amendAllowed: false,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {
        filterType: 'PRICE_FILTER',
        minPrice: '0.01000000',
        maxPrice: '1000000.00000000',
        tickSize: '0.01000000',
      },
      {
        filterType: 'LOT_SIZE',
        minQty: format8(market.step),
        maxQty: MAX_QTY,
        stepSize: format8(market.step),
      },
      { filterType: 'MARKET_LOT_SIZE', minQty: ZERO, maxQty: MAX_QTY, stepSize: ZERO },
      {
        filterType: 'NOTIONAL',
        minNotional: format8(centsToUnits(config.minNotional)),
        applyMinToMarket: true,
        maxNotional: '9000000.00000000',
        applyMaxToMarket: false,
        avgPriceMins: 5,
      },
    ],
    permissions: [],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
    allowedSelfTradePreventionModes: ['NONE', 'EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
  };
}

export const priceTicker = (market: Market, price: Cents) => ({
  symbol: market.symbol,
  price: formatPrice(price),
});

/** Percentage with 3 places, as Binance writes priceChangePercent. */
function percent(change: bigint, base: bigint): string {
  const thousandths = (change * 100_000n) / base;
  return thousandths < 0n ? `-${formatPct(-thousandths)}` : formatPct(thousandths);
}
const formatPct = (thousandths: bigint) =>
  `${thousandths / 1000n}.${(thousandths % 1000n).toString().padStart(3, '0')}`;

export function dayTicker(market: Market, state: SimulatorState, now: number) {
  const last = state.price(market.base);
  const stats = state.dayStats(market.base);
  return {
    symbol: market.symbol,
    priceChange: formatPrice(last - stats.open),
    priceChangePercent: percent(last - stats.open, stats.open),
    weightedAvgPrice: formatPrice(last),
    prevClosePrice: formatPrice(stats.open),
    lastPrice: formatPrice(last),
    lastQty: ZERO,
    // No order book is simulated: the market is quoted at its last price on both sides.
    bidPrice: formatPrice(last),
    bidQty: ZERO,
    askPrice: formatPrice(last),
    askQty: ZERO,
    openPrice: formatPrice(stats.open),
    highPrice: formatPrice(stats.high),
    lowPrice: formatPrice(stats.low),
    volume: format8(stats.volume),
    quoteVolume: format8(stats.quoteVolume),
    openTime: now - 86_400_000,
    closeTime: now,
    firstId: stats.firstId,
    lastId: stats.lastId,
    count: stats.count,
  };
}

function orderCore(order: SimOrder) {
  return {
    symbol: order.symbol,
    orderId: order.orderId,
    orderListId: -1,
    clientOrderId: order.clientOrderId,
  };
}

function orderResult(order: SimOrder) {
  return {
    price: ZERO,
    origQty: format8(order.quantity),
    executedQty: format8(order.quantity),
    origQuoteOrderQty: format8(order.quoteOrdered),
    cummulativeQuoteQty: format8(order.quoteSpent),
    status: 'FILLED',
    timeInForce: 'GTC',
    type: 'MARKET',
    side: 'BUY',
    workingTime: order.transactTime,
    selfTradePreventionMode: 'NONE',
  };
}

export type ResponseType = 'ACK' | 'RESULT' | 'FULL';

/** The answer to `POST /api/v3/order` in the asked `newOrderRespType`. */
export function newOrderResponse(order: SimOrder, type: ResponseType) {
  const ack = { ...orderCore(order), transactTime: order.transactTime };
  if (type === 'ACK') return ack;
  const result = { ...ack, ...orderResult(order) };
  if (type === 'RESULT') return result;
  return {
    ...result,
    fills: [
      {
        price: formatPrice(order.price),
        qty: format8(order.quantity),
        commission: format8(order.commission),
        commissionAsset: order.commissionAsset,
        tradeId: order.tradeId,
      },
    ],
  };
}

/** The answer to `GET /api/v3/order`. */
export function queriedOrder(order: SimOrder) {
  return {
    ...orderCore(order),
    ...orderResult(order),
    stopPrice: ZERO,
    icebergQty: ZERO,
    time: order.transactTime,
    updateTime: order.transactTime,
    isWorking: true,
  };
}

/** One entry of `GET /api/v3/myTrades`. */
export function myTrade(order: SimOrder) {
  return {
    symbol: order.symbol,
    id: order.tradeId,
    orderId: order.orderId,
    orderListId: -1,
    price: formatPrice(order.price),
    qty: format8(order.quantity),
    quoteQty: format8(order.quoteSpent),
    commission: format8(order.commission),
    commissionAsset: order.commissionAsset,
    time: order.transactTime,
    isBuyer: true,
    isMaker: false,
    isBestMatch: true,
  };
}

export function account(state: SimulatorState, config: SimulatorConfig, now: number) {
  const rate = format8(config.commissionRate);
  // Binance also states the rate in basis points, rounded to whole ones.
  const bps = Number(config.commissionRate / 10_000n);
  return {
    makerCommission: bps,
    takerCommission: bps,
    buyerCommission: 0,
    sellerCommission: 0,
    commissionRates: { maker: rate, taker: rate, buyer: ZERO, seller: ZERO },
    canTrade: true,
    canWithdraw: false,
    canDeposit: false,
    brokered: false,
    requireSelfTradePrevention: false,
    preventSor: false,
    updateTime: now,
    accountType: 'SPOT',
    balances: state.balanceList().map((b) => ({ asset: b.asset, free: format8(b.free), locked: ZERO })),
    permissions: ['SPOT'],
    uid: 1,
  };
}
