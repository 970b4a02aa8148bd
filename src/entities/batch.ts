import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt, updatedAt } from './timestamps.js';
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
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  checks: [
    { name: 'batches_orders_total_check', expression: 'orders_total >= 0' },
    { name: 'batches_house_top_up_check', expression: 'house_top_up >= 0' },
    { name: 'batches_check', expression: 'notional = orders_total + house_top_up' },
  ],
});
export type IBatch = InferEntity<typeof Batch>;
