import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from './user.js';
import { CryptoCurrency } from './crypto-currency.js';
import { ORDER_STATES } from '../domain/orders.js';

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
    batchId: p.string().length(64).nullable().index(),
    exchangeOrderId: p.string().length(64).nullable(),
    failureReason: p.string().length(255).nullable(),
    fraudRule: p.string().length(64).nullable(),
    fraudReason: p.string().length(255).nullable(),
    reviewedBy: () => p.manyToOne(User).nullable(),
    reviewedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [{ properties: ['user', 'id'] }],
});
export type IOrder = InferEntity<typeof Order>;
