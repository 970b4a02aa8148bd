import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { CryptoCurrency } from './crypto-currency.js';
import { Order } from './order.js';
import { Batch } from './batch.js';

/**
 * One exchange purchase as the exchange filled it: an order bought alone or a batch, never both.
 * Append-only like the ledger (the same trigger refuses UPDATE and DELETE). `quoteAsked` is the
 * notional sent (cents); the fill's figures keep the exchange's 8 places. `seq` orders the admin
 * list and is its cursor.
 */
export const ExchangePurchase = defineEntity({
  name: 'ExchangePurchase',
  tableName: 'exchange_purchases',
  properties: {
    clientOrderId: p.string().length(64).primary(),
    seq: p.bigint('number').autoincrement().unique(),
    order: () => p.oneToOne(Order).owner().nullable().deleteRule('no action'),
    batch: () => p.oneToOne(Batch).owner().nullable().deleteRule('no action'),
    crypto: () => p.manyToOne(CryptoCurrency),
    symbol: p.string().length(32),
    exchangeOrderId: p.string().length(64),
    quoteAsked: p.decimal('string').precision(20).scale(2),
    quoteSpent: p.decimal('string').precision(28).scale(8),
    quantity: p.decimal('string').precision(28).scale(8),
    averagePrice: p.decimal('string').precision(28).scale(8),
    commission: p.decimal('string').precision(28).scale(8),
    commissionAsset: p.string().length(16),
    createdAt: createdAt(),
  },
  checks: [
    {
      name: 'exchange_purchases_subject_check',
      expression: '(order_id is null) <> (batch_id is null)',
    },
  ],
});
export type IExchangePurchase = InferEntity<typeof ExchangePurchase>;
