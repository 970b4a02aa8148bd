import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt, updatedAt } from './timestamps.js';
import { User } from './user.js';
import { CryptoCurrency } from './crypto-currency.js';
import { ORDER_STATES } from '../domain/orders.js';
import { Batch } from './batch.js';

/**
 * A purchase. Its id is taken from the `orders_id_seq` sequence before the order workflow starts,
 * so the workflow id (`order-<id>`) is known up front and the debit is idempotent by that id.
 */
export const Order = defineEntity({
  name: 'Order',
  tableName: 'orders',
  properties: {
    id: p.bigint('number').primary(),
    user: () => p.manyToOne(User),
    crypto: () => p.manyToOne(CryptoCurrency),
    amount: p.decimal('string').precision(28).scale(8),
    price: p.decimal('string').precision(20).scale(2),
    totalPrice: p.decimal('string').precision(20).scale(2),
    state: p.enum(ORDER_STATES).default('pending'),
    batch: () => p.manyToOne(Batch).nullable().deleteRule('no action').index(),
    exchangeOrderId: p.string().length(64).nullable(),
    failureReason: p.string().length(255).nullable(),
    fraudRule: p.string().length(64).nullable(),
    fraudReason: p.string().length(255).nullable(),
    reviewedBy: () => p.manyToOne(User).fieldName('reviewed_by').nullable().deleteRule('no action'),
    reviewedAt: p.datetime().nullable(),
    /**
     * Whether the pool signals the order's workflow when it settles the order: false while the
     * debit's activity watches for the settlement itself (src/activities/settlements.ts).
     */
    poolSignals: p.boolean().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  indexes: [
    { properties: ['user', 'id'] },
    // Only unsettled orders are looked up by state.
    {
      name: 'orders_state_index',
      properties: ['state'],
      where: "state in ('pending', 'aggregated', 'held')",
    },
    { name: 'orders_held_index', properties: ['id'], where: "state = 'held'" },
  ],
  checks: [
    { name: 'orders_amount_check', expression: 'amount > 0' },
    { name: 'orders_price_check', expression: 'price > 0' },
    { name: 'orders_total_price_check', expression: 'total_price > 0' },
  ],
});
export type IOrder = InferEntity<typeof Order>;
