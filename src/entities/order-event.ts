import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { User } from './user.js';

/**
 * One change of an order as its owner saw it: the order view written in the transaction that
 * changed the order, kept so a reconnecting event stream can replay what it missed. The id orders a
 * user's events in commit order (see services/order-events.ts); rows older than the retention
 * are deleted. `order_id` has no key: a refused placement has no order row, yet its event is shown.
 */
export const OrderEvent = defineEntity({
  name: 'OrderEvent',
  tableName: 'order_events',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    orderId: p.bigint('number'),
    payload: p.json<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  indexes: [
    { name: 'order_events_user_id_index', properties: ['user', 'id'] },
    { name: 'order_events_created_at_index', properties: ['createdAt'] },
  ],
});
export type IOrderEvent = InferEntity<typeof OrderEvent>;
