import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { EntityManager } from '@mikro-orm/postgresql';
import { accountNotFound, idempotencyKeyReused } from '../domain/errors.js';
import { sqlOf } from '../db/kysely.js';
import { isForeignKeyViolation } from '../db/violations.js';

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

type KeyOf = Pick<IdempotencyScope, 'userId' | 'scope' | 'key'>;

const keyColumns = (at: KeyOf) => ({ user_id: at.userId, scope: at.scope, key: at.key });

/**
 * The stored record of a key, which must have been made for the same request: the same key with a
 * different request is a 409.
 */
async function recordFor(em: EntityManager, at: KeyOf, hash: string) {
  const row = await sqlOf(em)
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'order_id', 'response_status', 'response_body'])
    .where((eb) => eb.and(keyColumns(at)))
    .executeTakeFirst();
  if (!row || row.request_hash !== hash) {
    throw idempotencyKeyReused();
  }
  const stored =
    row.response_status === null || row.response_body === null
      ? undefined
      : { status: row.response_status, body: row.response_body };
  return { orderId: row.order_id === null ? null : Number(row.order_id), stored };
}

/** Stores the final response of a key's request, unless one is stored already. */
export async function storeResponse(
  em: EntityManager,
  at: KeyOf,
  response: { status: number; body: unknown },
): Promise<void> {
  await sqlOf(em)
    .updateTable('idempotency_keys')
    .set({ response_status: response.status, response_body: response.body })
    .where((eb) => eb.and(keyColumns(at)))
    .where('response_status', 'is', null)
    .execute();
}

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
    const inserted = await sqlOf(tx)
      .insertInto('idempotency_keys')
      .values({ ...keyColumns(scope), request_hash: hash })
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!inserted) {
      const { stored } = await recordFor(tx, scope, hash);
      return { status: stored!.status, body: stored!.body as T, replayed: true };
    }
    const response = await action(tx);
    await storeResponse(tx, scope, response);
    return { ...response, replayed: false };
  });
}

/** A fresh order id from the orders sequence (raw: `nextval` is the point). */
export async function nextOrderId(em: EntityManager): Promise<number> {
  const row = await sqlOf(em)
    .selectNoFrom(sql<string>`nextval('orders_id_seq')`.as('id'))
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/**
 * The order id for a placement. Without a key it is fresh. With one, it is stored with the key on
 * first use: a retry, even a concurrent one, gets the same id (and the response already stored for
 * it, if the first request finished); a different request under the key is a 409.
 */
export async function reserveOrderId(
  em: EntityManager,
  userId: number,
  key: string | undefined,
  request: unknown,
): Promise<{ orderId: number; stored?: { status: number; body: unknown } }> {
  if (!key) return { orderId: await nextOrderId(em) };
  const at = { userId, scope: 'order', key };
  const hash = requestHash(request);
  await sqlOf(em)
    .insertInto('idempotency_keys')
    .values({ ...keyColumns(at), request_hash: hash, order_id: sql<number>`nextval('orders_id_seq')` })
    .onConflict((oc) => oc.doNothing())
    .execute()
    .catch((error: unknown) => {
      // The account was deleted after its token was issued.
      throw isForeignKeyViolation(error) ? accountNotFound() : error;
    });
  const { orderId, stored } = await recordFor(em, at, hash);
  return { orderId: orderId!, stored };
}
