import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';

/**
 * Records that a request for `clientOrderId` is about to be sent. True when one was recorded before:
 * an earlier request may have executed, so the caller must look the order up before buying again.
 */
export async function recordExchangeRequest(em: EntityManager, clientOrderId: string): Promise<boolean> {
  const inserted = await sqlOf(em)
    .insertInto('exchange_requests')
    .values({ client_order_id: clientOrderId })
    .onConflict((oc) => oc.column('client_order_id').doNothing())
    .returning('client_order_id')
    .executeTakeFirst();
  return inserted === undefined;
}
