import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { User } from './user.js';

/**
 * Audit log: every admin action, written in the same transaction as its effect. A refused attempt
 * to review a held order (action `review_refused`) has no admin; the claimed reviewer is in details.
 */
export const AdminAction = defineEntity({
  name: 'AdminAction',
  tableName: 'admin_actions',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    admin: () => p.manyToOne(User).nullable().deleteRule('no action'),
    action: p.string().length(64),
    subject: p.string().length(128),
    details: p.json<Record<string, unknown>>().defaultRaw("'{}'"),
    createdAt: createdAt(),
  },
  indexes: [{ name: 'admin_actions_created_at_index', properties: ['createdAt'] }],
});
export type IAdminAction = InferEntity<typeof AdminAction>;
