import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { User } from './user.js';

/** A client's Idempotency-Key, scoped per user and route, with the response it produced. */
export const IdempotencyKey = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    user: () => p.manyToOne(User).primary(),
    scope: p.string().length(32).primary(),
    key: p.string().length(255).primary(),
    requestHash: p.string().length(64),
    orderId: p.bigint('number').nullable(),
    responseStatus: p.integer().nullable(),
    responseBody: p.json<unknown>().nullable(),
    createdAt: createdAt(),
  },
  primaryKeys: ['user', 'scope', 'key'],
  indexes: [{ name: 'idempotency_keys_created_at_index', properties: ['createdAt'] }],
});
export type IIdempotencyKey = InferEntity<typeof IdempotencyKey>;
