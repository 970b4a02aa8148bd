import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RefreshToken } from '../entities/refresh-token.js';

export interface IssuedRefreshToken {
  id: string;
  userId: number;
  familyId: string;
  expiresAt: Date;
}

export async function storeRefreshToken(em: EntityManager, token: IssuedRefreshToken): Promise<void> {
  await em.insert(RefreshToken, {
    id: token.id,
    user: token.userId,
    familyId: token.familyId,
    expiresAt: token.expiresAt,
    createdAt: new Date(),
  });
}

/**
 * Marks the user's token used, once: `used` the first time, `reused` when it was already rotated
 * (a replay), `invalid` when it is unknown, revoked or expired. Must run inside a transaction: the
 * row stays locked until it commits, so two concurrent rotations cannot both succeed.
 */
export async function useRefreshToken(
  tx: EntityManager,
  id: string,
  userId: number,
): Promise<'used' | 'reused' | 'invalid'> {
  const token = await tx.findOne(
    RefreshToken,
    { id, user: userId },
    { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
  );
  if (!token || token.revokedAt || token.expiresAt.getTime() <= Date.now()) return 'invalid';
  if (token.usedAt) return 'reused';
  token.usedAt = new Date();
  await tx.flush();
  return 'used';
}

/** Every live token of the family stops working. */
export async function revokeFamily(em: EntityManager, familyId: string): Promise<void> {
  await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
}

/** Every live token of the user stops working, but those of `keepFamily` (the caller's own session). */
export async function revokeOtherFamilies(
  em: EntityManager,
  userId: number,
  keepFamily?: string,
): Promise<void> {
  await em.nativeUpdate(
    RefreshToken,
    { user: userId, revokedAt: null, ...(keepFamily === undefined ? {} : { familyId: { $ne: keepFamily } }) },
    { revokedAt: new Date() },
  );
}
