import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { EntityManager } from '@mikro-orm/postgresql';
import { unauthorized } from '../../domain/errors.js';
import { findAccount } from '../../services/accounts.js';
import {
  revokeFamily,
  revokeOtherFamilies,
  storeRefreshToken,
  useRefreshToken,
} from '../../services/refresh-tokens.js';
import type { Env } from '../../config/env.js';
import { isUuid, subjectId, type AccessClaims, type RefreshClaims } from '../plugins/auth.js';
import type { UserRole } from '../../entities/user.js';

export interface TokenPair {
  access: string;
  refresh: string;
}

const invalidRefresh = () =>
  unauthorized('the refresh token is invalid, expired or already used', 'invalid_token');

/**
 * Access tokens are short-lived JWTs; refresh tokens are JWTs backed by a row, rotated on every use.
 * Presenting an already-rotated refresh token revokes its whole family: one of the two holders is a thief.
 */
export function createTokenService(app: FastifyInstance, env: Env) {
  const seconds = (ms: number) => Math.max(1, Math.floor(ms / 1000));

  async function issue(
    em: EntityManager,
    user: { id: number; role: UserRole },
    familyId: string = randomUUID(),
  ): Promise<TokenPair> {
    const jti = randomUUID();
    await storeRefreshToken(em, {
      id: jti,
      userId: user.id,
      familyId,
      expiresAt: new Date(Date.now() + env.JWT_REFRESH_TTL),
    });
    const access: AccessClaims = { sub: String(user.id), role: user.role, typ: 'access', fam: familyId };
    const refresh: RefreshClaims = { sub: String(user.id), typ: 'refresh', jti, fam: familyId };
    return {
      access: app.jwt.sign(access, { expiresIn: seconds(env.JWT_ACCESS_TTL) }),
      refresh: app.jwt.sign(refresh, { expiresIn: seconds(env.JWT_REFRESH_TTL) }),
    };
  }

  function verifyRefresh(token: string): RefreshClaims & { userId: number } {
    let claims: AccessClaims | RefreshClaims;
    try {
      claims = app.jwt.verify<AccessClaims | RefreshClaims>(token);
    } catch {
      throw invalidRefresh();
    }
    if (claims.typ !== 'refresh') throw invalidRefresh();
    const userId = subjectId(claims.sub);
    if (userId === undefined || !isUuid(claims.jti) || !isUuid(claims.fam)) throw invalidRefresh();
    return { ...claims, userId };
  }

  async function rotate(em: EntityManager, token: string): Promise<TokenPair> {
    const claims = verifyRefresh(token);
    const outcome = await em.transactional(async (tx) => {
      const use = await useRefreshToken(tx, claims.jti, claims.userId);
      if (use === 'invalid') return 'invalid' as const;
      if (use === 'reused') {
        await revokeFamily(tx, claims.fam);
        return 'reused' as const;
      }
      const account = await findAccount(tx, claims.userId);
      if (!account) return 'invalid' as const;
      return issue(tx, account, claims.fam);
    });
    if (typeof outcome === 'string') throw invalidRefresh();
    return outcome;
  }

  /** Logout: the refresh token's family stops working at once; access tokens expire on their own. */
  async function logout(em: EntityManager, token: string): Promise<void> {
    await revokeFamily(em, verifyRefresh(token).fam);
  }

  return { issue, rotate, logout, revokeOtherFamilies };
}

export type TokenService = ReturnType<typeof createTokenService>;
