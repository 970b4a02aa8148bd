import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { CryptoCurrency } from './crypto-currency.js';

export const BATCH_STATES = ['open', 'completed', 'failed'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

/**
 * One exchange purchase settling one or more pooled orders. The exchange is asked for
 * `notional` = `ordersTotal` + `houseTopUp`; the top-up is what the house pays to reach the minimum.
 */
export const Batch = defineEntity({
  name: 'Batch',
  tableName: 'batches',
  properties: {
    id: p.string().length(64).primary(),
    crypto: () => p.manyToOne(CryptoCurrency),
    ordersTotal: p.decimal('string').precision(20).scale(2),
    houseTopUp: p.decimal('string').precision(20).scale(2).default('0.00'),
    notional: p.decimal('string').precision(20).scale(2),
    orderCount: p.integer(),
    state: p.enum(BATCH_STATES).default('open'),
    exchangeOrderId: p.string().length(64).nullable(),
    filledQuantity: p.decimal('string').precision(28).scale(8).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IBatch = InferEntity<typeof Batch>;
