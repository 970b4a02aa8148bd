import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { User } from './user.js';

/**
 * One issued refresh token. Tokens of one login share a family; presenting a token that was
 * already rotated revokes the whole family (the token was stolen or replayed).
 */
export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: {
    id: p.uuid().primary(),
    user: () => p.manyToOne(User).index(),
    familyId: p.uuid().index(),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});
export type IRefreshToken = InferEntity<typeof RefreshToken>;
