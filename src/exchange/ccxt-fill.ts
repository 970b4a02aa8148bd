import type { Fee, Order, Trade } from 'ccxt';
import * as ccxt from 'ccxt';
import {
  divideDecimal,
  formatQuantity,
  QUANTITY_DECIMALS,
  roundDecimal,
  type Rounding,
} from '../domain/money.js';
import { ExchangeUnavailableError, type Fill } from './exchange.js';

/** What the fill must match: the request it answers. */
export interface Expected {
  clientOrderId: string;
  crypto: string;
  symbol: string;
  /** The notional asked for, in units of 1e-8 of the quote currency; unknown to a lookup. */
  notional?: bigint;
}

/** Statuses of an order that will not execute any further. */
const FINISHED = new Set(['closed', 'canceled', 'expired', 'rejected']);

/**
 * ccxt's unified amounts are floats parsed from the exchange's decimal strings; ccxt's own
 * numberToString prints a float back as the shortest decimal that reads as it (the exchange's digits
 * for anything an exchange reports with up to 15 significant digits), without an exponent. No
 * arithmetic touches the float.
 */
function exact(value: number | string | undefined, rounding: Rounding, what: string): bigint {
  const text = value === undefined ? undefined : ccxt.functions.numberToString(value);
  const units = text === undefined ? undefined : roundDecimal(text, QUANTITY_DECIMALS, rounding);
  if (units === undefined)
    throw new ExchangeUnavailableError(`exchange reported ${what} as ${String(value)}`);
  return units;
}

/** The one commission of the order, summed over its trades; one asset only, as a Fill carries one. */
function commissionOf(order: Order, trades: Trade[], quote: string): { amount: bigint; asset: string } {
  // ccxt fills `fees` (one per asset) besides `fee`, though its types name only `fee`.
  const feesOf = (item: { fee?: Fee; fees?: Fee[] }) => item.fees ?? (item.fee ? [item.fee] : []);
  const fees = trades.length > 0 ? trades.flatMap(feesOf) : feesOf(order);
  const byAsset = new Map<string, bigint>();
  for (const fee of fees) {
    if (fee?.cost === undefined) continue;
    const asset = fee.currency ?? quote;
    // Each part is kept at 18 places and the sum rounded up once, never under-counting the cost.
    const text = ccxt.functions.numberToString(fee.cost);
    const amount = text === undefined ? undefined : roundDecimal(text, 18, 'up');
    if (amount === undefined) {
      throw new ExchangeUnavailableError(`exchange reported a commission of ${String(fee.cost)}`);
    }
    byAsset.set(asset, (byAsset.get(asset) ?? 0n) + amount);
  }
  const charged = [...byAsset].filter(([, amount]) => amount > 0n);
  if (charged.length > 1) {
    throw new ExchangeUnavailableError(
      `order ${order.id} was charged commission in ${charged.map(([a]) => a).join(' and ')}; a fill carries one asset`,
    );
  }
  const [asset, amount] = charged[0] ?? [...byAsset][0] ?? [undefined, 0n];
  if (asset === undefined)
    throw new ExchangeUnavailableError(`exchange reported no commission for order ${order.id}`);
  const scale = 10n ** 10n;
  return { amount: (amount + scale - 1n) / scale, asset };
}

/**
 * The contract's Fill for an executed order. Anything that does not answer the request (another
 * client order id, another market, more quote spent than asked) is ExchangeUnavailableError naming
 * the mismatch: the purchase is neither confirmed nor refused.
 */
export function fillOf(order: Order, trades: Trade[], expected: Expected, quote: string): Fill {
  const mismatch = (what: string) =>
    new ExchangeUnavailableError(
      `exchange answered ${what} for ${expected.clientOrderId} (${expected.symbol}, order ${order.id})`,
    );
  if (order.clientOrderId !== expected.clientOrderId)
    throw mismatch(`client order id ${order.clientOrderId}`);
  if (order.symbol !== expected.symbol) throw mismatch(`market ${order.symbol}`);
  if (order.side !== undefined && order.side !== 'buy') throw mismatch(`a ${order.side} order`);
  if (!FINISHED.has(order.status ?? ''))
    throw mismatch(`an order still ${order.status ?? 'in an unknown state'}`);
  const quantity = exact(order.filled, 'down', 'the executed quantity');
  const quoteSpent = exact(order.cost, 'up', 'the quote spent');
  if (order.id === undefined) throw mismatch('an order without an id');
  if (quantity === 0n || quoteSpent === 0n)
    throw mismatch(`an order that executed nothing (${order.status})`);
  if (expected.notional !== undefined && quoteSpent > expected.notional) {
    throw mismatch(
      `${formatQuantity(quoteSpent)} spent, more than the ${formatQuantity(expected.notional)} asked`,
    );
  }
  const commission = commissionOf(order, trades, quote);
  return {
    exchangeOrderId: order.id,
    clientOrderId: expected.clientOrderId,
    crypto: expected.crypto,
    symbol: expected.symbol,
    quoteSpent: formatQuantity(quoteSpent),
    quantity: formatQuantity(quantity),
    averagePrice: formatQuantity(divideDecimal(quoteSpent, quantity, QUANTITY_DECIMALS)),
    commission: formatQuantity(commission.amount),
    commissionAsset: commission.asset,
  };
}

/** An order that is finished with nothing executed (a market buy with no liquidity, say). */
export function executedNothing(order: Order): boolean {
  return FINISHED.has(order.status ?? '') && (order.filled ?? 0) === 0;
}
