import type { EntityManager } from '@mikro-orm/postgresql';
import { settlementOf, type Settlement } from '../domain/orders.js';
import { sqlOf } from '../db/kysely.js';
import { findOrder } from './orders.js';

// A pooled order's workflow learns how its batch ended either from the debit's activity, which
// watches the order's events for a while (src/activities/settlements.ts), or from the pool's signal.
// `orders.pool_signals` says which: the pool signals exactly the orders whose flag is set when it
// settles them. The flag changes only while the order waits in its pool, under the same row lock
// as the settlement, so an order is either handed over before it is settled (and signalled) or
// found settled (and told here).

/**
 * Asks the pool to signal the order's workflow when it settles the order. Answers with the
 * settlement instead when the order is settled already (its workflow then waits for nothing).
 */
export async function handOverToPool(em: EntityManager, orderId: number): Promise<Settlement | undefined> {
  const waiting = await sqlOf(em)
    .updateTable('orders')
    .set({ pool_signals: true })
    .where('id', '=', orderId)
    .where('state', '=', 'aggregated')
    .returning('id')
    .executeTakeFirst();
  if (waiting) return undefined;
  const order = await findOrder(em, orderId);
  return order && settlementOf(order);
}

/**
 * The orders of a settled batch whose workflows wait for the pool's signal. Read after the batch
 * settled its orders, when no flag of theirs can change any more: a retry reads the same.
 */
export async function ordersToSignal(em: EntityManager, batchId: string): Promise<number[]> {
  const rows = await sqlOf(em)
    .selectFrom('orders')
    .select('id')
    .where('batch_id', '=', batchId)
    .where('pool_signals', '=', true)
    .orderBy('id')
    .execute();
  return rows.map((r) => Number(r.id));
}
