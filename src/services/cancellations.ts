import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';
import { notFound, orderNotCancellable } from '../domain/errors.js';
import { CANCELLABLE_STATES, type Canceller, type OrderView } from '../domain/orders.js';
import { endWithRefund, findOrder } from './orders.js';
import { recordAdminAction } from './audit.js';
import { publishOrderChanges } from './order-events.js';
import { routeOfState, type SettledOrder } from './settled.js';

export const cancelReason = (canceller: Canceller) =>
  canceller.by === 'admin' ? 'cancelled by an admin' : 'cancelled by its owner';

/**
 * Cancels a waiting order: `held`, or `aggregated` and in no batch yet. The order becomes
 * `cancelled` and its total is refunded (ledger `refund`), with the admin's audit record when an
 * admin cancels it, in one transaction. The row is locked first, so a batch claiming the order
 * (services/batches.ts, which takes only orders in no batch) either commits before, and the cancel
 * is refused, or waits and then leaves it out. Idempotent: a retry that finds the order cancelled
 * changes nothing and returns it without `settled`. Refused (`order_not_cancellable`) otherwise.
 */
export async function cancelOrder(
  em: EntityManager,
  orderId: number,
  canceller: Canceller,
): Promise<{ order: OrderView; settled?: SettledOrder }> {
  const settled = await em.transactional(async (tx) => {
    const db = sqlOf(tx);
    const row = await db
      .selectFrom('orders')
      .select(['state', 'batch_id'])
      .where('id', '=', orderId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw notFound('order');
    if (row.state === 'cancelled') return undefined;
    const waiting = (CANCELLABLE_STATES as readonly string[]).includes(row.state) && row.batch_id === null;
    if (!waiting) throw orderNotCancellable(row.batch_id === null ? row.state : 'in a batch being bought');
    const seconds = await endWithRefund(tx, orderId, 'cancelled', cancelReason(canceller));
    if (canceller.by === 'admin')
      await recordAdminAction(tx, canceller.adminId, 'cancel_order', `order:${orderId}`, { from: row.state });
    await publishOrderChanges(tx, [orderId]);
    return { state: 'cancelled' as const, route: routeOfState(row.state), seconds };
  });
  return { order: (await findOrder(em, orderId))!, ...(settled && { settled }) };
}

/**
 * What the API needs to route a cancel: the order's state, whether a batch holds it, and its crypto
 * (which names its pool). `userId` narrows to the owner's orders; undefined when there is no row.
 */
export async function cancelTarget(
  em: EntityManager,
  orderId: number,
  userId?: number,
): Promise<{ state: string; inBatch: boolean; crypto: string } | undefined> {
  const row = await sqlOf(em)
    .selectFrom('orders as o')
    .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
    .select(['o.state', 'o.batch_id', 'c.name as crypto'])
    .where('o.id', '=', orderId)
    .$if(userId !== undefined, (q) => q.where('o.user_id', '=', userId!))
    .executeTakeFirst();
  return row && { state: row.state, inBatch: row.batch_id !== null, crypto: row.crypto };
}
