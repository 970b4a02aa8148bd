import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt, updatedAt } from './timestamps.js';
import { User } from './user.js';

export const PLACEMENT_STATES = ['placing', 'rejected'] as const;
export type PlacementState = (typeof PLACEMENT_STATES)[number];

/**
 * An order id the API reserved that has no order row: still `placing` (the API answered 202 before
 * the debit committed), or `rejected` by the debit (no money moved), with the refusal's code.
 */
export const OrderPlacement = defineEntity({
  name: 'OrderPlacement',
  tableName: 'order_placements',
  properties: {
    orderId: p.bigint('number').primary().autoincrement(false),
    user: () => p.manyToOne(User),
    crypto: p.string().length(10),
    amount: p.decimal('string').precision(28).scale(8),
    state: p.enum(PLACEMENT_STATES).columnType('varchar(16)'),
    errorCode: p.string().length(64).nullable(),
    reason: p.string().length(255).nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  indexes: [{ name: 'order_placements_user_id_index', properties: ['user', 'orderId'] }],
});
export type IOrderPlacement = InferEntity<typeof OrderPlacement>;
