import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { findOrder, refundOrder } from './orders.js';
import { recordAdminAction } from './audit.js';
import type { Placement } from '../workflows/definitions.js';

/**
 * An admin approves a held order: it continues to the exchange or the pool. The decision and its
 * audit record commit together. Idempotent: an order no longer held is only read back.
 */
export async function approveHeldOrder(
  em: EntityManager,
  orderId: number,
  adminId: number,
  threshold: Cents,
): Promise<Placement> {
  await em.transactional(async (tx) => {
    const updated = await tx.execute<{ id: string }[]>(
      `update orders set state = case when total_price >= ? then 'pending' else 'aggregated' end,
              reviewed_by = ?, reviewed_at = now(), updated_at = now()
        where id = ? and state = 'held' returning id`,
      [formatUsd(threshold), adminId, orderId],
    );
    if (updated.length) await recordAdminAction(tx, adminId, 'approve_order', `order:${orderId}`);
  });
  const order = (await findOrder(em, orderId))!;
  return { order, route: readUsd(order.total_price) >= threshold ? 'exchange' : 'pool' };
}

/** An admin rejects a held order, or nobody reviewed it in time: refunded, with the audit record. */
export async function rejectHeldOrder(
  em: EntityManager,
  orderId: number,
  adminId: number | null,
  reason: string,
): Promise<void> {
  await em.transactional(async (tx) => {
    const [held] = await tx.execute<{ id: string }[]>(
      `update orders set reviewed_by = ?, reviewed_at = now() where id = ? and state = 'held' returning id`,
      [adminId, orderId],
    );
    if (!held) return;
    await refundOrder(tx, orderId, reason);
    if (adminId !== null)
      await recordAdminAction(tx, adminId, 'reject_order', `order:${orderId}`, { reason });
  });
}
