import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { idempotencyKeyReused } from '../domain/errors.js';

export interface IdempotencyScope {
  userId: number;
  scope: string;
  key: string;
  request: unknown;
}

export interface StoredResponse<T> {
  status: number;
  body: T;
  replayed: boolean;
}

export const requestHash = (request: unknown) =>
  createHash('sha256').update(JSON.stringify(request)).digest('hex');

/**
 * Runs `action` at most once per (user, scope, key) within one transaction, storing its response.
 * The key row is inserted first: a concurrent duplicate blocks on it and then replays the stored
 * response; a different request under the same key is a 409. A failed action stores nothing.
 */
export async function onceForKey<T>(
  em: EntityManager,
  scope: IdempotencyScope,
  action: (tx: EntityManager) => Promise<{ status: number; body: T }>,
): Promise<StoredResponse<T>> {
  const hash = requestHash(scope.request);
  return em.transactional(async (tx) => {
    const inserted = await tx.execute<{ key: string }[]>(
      `insert into idempotency_keys (user_id, scope, key, request_hash) values (?, ?, ?, ?)
       on conflict do nothing returning key`,
      [scope.userId, scope.scope, scope.key, hash],
    );
    if (inserted.length === 0) {
      const [row] = await tx.execute<{ request_hash: string; response_status: number; response_body: T }[]>(
        'select request_hash, response_status, response_body from idempotency_keys where user_id = ? and scope = ? and key = ?',
        [scope.userId, scope.scope, scope.key],
      );
      if (!row || row.request_hash !== hash) {
        throw idempotencyKeyReused();
      }
      return { status: row.response_status, body: row.response_body, replayed: true };
    }
    const response = await action(tx);
    await tx.execute(
      'update idempotency_keys set response_status = ?, response_body = ? where user_id = ? and scope = ? and key = ?',
      [response.status, JSON.stringify(response.body), scope.userId, scope.scope, scope.key],
    );
    return { ...response, replayed: false };
  });
}
