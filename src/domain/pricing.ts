import { badRequest } from './errors.js';
import { formatUsd, quantityFor, totalPrice, type Cents, type Units } from './money.js';

/** How much a buyer asks for: a crypto quantity, or a USD total to spend. */
export type OrderSize = { amount: Units } | { total: Cents };

/** What an order of some size comes to at one price: the quantity bought and the USD debited. */
export interface Priced {
  amount: Units;
  total: Cents;
}

/**
 * Prices an order. A quantity costs round_half_up(amount × price, 2). A USD total buys
 * total ÷ price rounded down to 8 places, whose own total is then at most the total asked for:
 * amount × price ≤ total exactly, and rounding half up cannot pass a whole cent it does not exceed.
 * A total under $0.01 (or a USD total that buys nothing) or over `maxTotal` is refused.
 */
export function priceOrder(size: OrderSize, price: Cents, maxTotal: Cents): Priced {
  const amount = 'amount' in size ? size.amount : quantityFor(size.total, price);
  // Only a total can buy nothing: a quantity is positive by the time it gets here.
  if (amount < 1n)
    throw badRequest('total_too_small', `the total buys less than 0.00000001 at ${formatUsd(price)}`);
  const total = totalPrice(amount, price);
  if (total < 1n) throw badRequest('total_too_small', 'the order total is below $0.01');
  if (total > maxTotal) {
    throw badRequest('total_too_large', `the order total must not exceed ${formatUsd(maxTotal)}`);
  }
  return { amount, total };
}
