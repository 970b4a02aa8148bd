import type { EntityManager } from '@mikro-orm/postgresql';
import { unprocessable, type DomainError } from '../../domain/errors.js';
import { formatQuantity, formatUsd, type Cents, type Units } from '../../domain/money.js';
import type { OrderInput } from '../../domain/orders.js';
import { priceOrder } from '../../domain/pricing.js';
import { activeCrypto } from '../../services/orders.js';
import { findUserQuote, type StoredQuote } from '../../services/quotes.js';
import { quoteUsed } from '../../services/quote-claims.js';

/** What a buyer asks for: a crypto quantity, a USD total to spend, or a quote. */
export type OrderRequest =
  { crypto: string; amount: Units } | { crypto: string; total: Cents } | { quoteId: string };

/** An order request made ready to place: the workflow's input but for the ids. */
export interface PreparedOrder {
  order: Omit<OrderInput, 'orderId' | 'userId'>;
  /** What the Idempotency-Key is bound to: the request as the client made it. */
  fingerprint: Record<string, string>;
  quote?: StoredQuote;
}

/**
 * Checks and prices a request before an order id is reserved. A quantity is priced by the debit at
 * the price of its time. A USD total is divided by the current price here, and that price travels
 * with the order, so the debit charges amount × price, which never exceeds the total. A quote
 * carries its own quantity and price. Unknown cryptos (400) and quotes (404) fail here.
 */
export async function prepareOrder(
  em: EntityManager,
  userId: number,
  request: OrderRequest,
  maxTotal: Cents,
): Promise<PreparedOrder> {
  if ('quoteId' in request) {
    const quote = await findUserQuote(em, userId, request.quoteId);
    await activeCrypto(em, quote.view.crypto);
    const { crypto, amount, price, total_price } = quote.view;
    return {
      order: { crypto, amount, price, total: total_price, quoteId: request.quoteId },
      fingerprint: { quote_id: request.quoteId },
      quote,
    };
  }
  const crypto = await activeCrypto(em, request.crypto);
  if ('amount' in request) {
    const amount = formatQuantity(request.amount);
    // The fingerprint is what it was before totals and quotes existed, so stored keys still match.
    return { order: { crypto: request.crypto, amount }, fingerprint: { crypto: request.crypto, amount } };
  }
  const priced = priceOrder({ total: request.total }, crypto.price, maxTotal);
  const total = formatUsd(request.total);
  return {
    order: {
      crypto: request.crypto,
      amount: formatQuantity(priced.amount),
      price: formatUsd(crypto.price),
      total,
    },
    fingerprint: { crypto: request.crypto, total },
  };
}

/**
 * Why a quote cannot place the order that reserved `orderId`: used by another order (409), or
 * expired (422). A quote this very order already holds (a retry of a request answered 202) is fine.
 */
export function quoteRefusal(quote: StoredQuote, orderId: number): DomainError | undefined {
  if (quote.usedByOrderId === orderId) return undefined;
  if (quote.usedByOrderId !== null) return quoteUsed();
  if (quote.expired) return unprocessable('quote_expired', `this quote expired at ${quote.view.expires_at}`);
  return undefined;
}
