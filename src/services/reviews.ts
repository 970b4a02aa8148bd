import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { readUsd, type Cents } from '../domain/money.js';
import { reviewerNotAdmin } from '../domain/errors.js';
import { findOrder, refundOrder } from './orders.js';
import { recordAdminAction, recordRefusedReview } from './audit.js';
import { poolThreshold, routeFor, stateOn, type Placement } from '../domain/orders.js';
import type { SettledOrder } from './settled.js';
import { publishOrderChanges } from './order-events.js';

const INT_MAX = 2_147_483_647;

/**
 * Whoever decides on a held order must be an admin now, whatever the caller of the workflow
 * claims: the reviewer's row is read and locked in the transaction that applies the decision, so
 * the role cannot change before it commits. A refused attempt is audited in its own commit.
 */
async function reviewerRefusal(
  tx: EntityManager,
  reviewerId: number,
  decision: 'approve' | 'reject',
  orderId: number,
): Promise<boolean> {
  // The id comes from a workflow payload: only a value the int key can hold is looked up.
  const lookup = Number.isSafeInteger(reviewerId) && reviewerId > 0 && reviewerId <= INT_MAX;
  const reviewer = lookup
    ? await sqlOf(tx)
        .selectFrom('users')
        .select('role')
        .where('id', '=', reviewerId)
        .forShare()
        .executeTakeFirst()
    : undefined;
  if (reviewer?.role === 'admin') return false;
  await recordRefusedReview(tx, reviewerId, decision, orderId, reviewer ? 'not an admin' : 'no such user');
  return true;
}

/**
 * An admin approves a held order: it continues to the exchange or the pool. The decision and its
 * audit record commit together. Idempotent: an order no longer held is only read back. Refused
 * (`reviewer_not_admin`, the order stays held) when the reviewer is not an admin.
 */
export async function approveHeldOrder(
  em: EntityManager,
  orderId: number,
  adminId: number,
  threshold: Cents,
): Promise<Placement> {
  const refused = await em.transactional(async (tx) => {
    if (await reviewerRefusal(tx, adminId, 'approve', orderId)) return true;
    // Locked while it is decided, so a concurrent review or timeout waits and then finds it decided.
    const held = await sqlOf(tx)
      .selectFrom('orders as o')
      .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
      .select(['o.total_price', 'c.min_notional'])
      .where('o.id', '=', orderId)
      .where('o.state', '=', 'held')
      .forUpdate(['o'])
      .executeTakeFirst();
    if (held) {
      const route = routeFor(readUsd(held.total_price), poolThreshold(threshold, readUsd(held.min_notional)));
      await sqlOf(tx)
        .updateTable('orders')
        .set({
          state: stateOn(route),
          reviewed_by: adminId,
          reviewed_at: sql`now()`,
          updated_at: sql`now()`,
        })
        .where('id', '=', orderId)
        .execute();
      await recordAdminAction(tx, adminId, 'approve_order', `order:${orderId}`);
      await publishOrderChanges(tx, [orderId]);
    }
    return false;
  });
  if (refused) throw reviewerNotAdmin();
  const order = (await findOrder(em, orderId))!;
  // The state the approval (or an earlier one) wrote is the route.
  const route =
    order.state === 'pending'
      ? 'exchange'
      : order.state === 'aggregated'
        ? 'pool'
        : routeFor(readUsd(order.total_price), threshold);
  return { order, route };
}

/**
 * An admin rejects a held order (`adminId`), or nobody reviewed it in time (`null`): refunded,
 * with the audit record. An admin's rejection is refused like an approval when they are not one.
 * Returns the order when this call refunded it.
 */
export async function rejectHeldOrder(
  em: EntityManager,
  orderId: number,
  adminId: number | null,
  reason: string,
): Promise<SettledOrder | undefined> {
  const outcome = await em.transactional(
    async (tx): Promise<{ refused: boolean; settled?: SettledOrder }> => {
      if (adminId !== null && (await reviewerRefusal(tx, adminId, 'reject', orderId)))
        return { refused: true };
      const held = await sqlOf(tx)
        .updateTable('orders')
        .set({ reviewed_by: adminId, reviewed_at: sql`now()` })
        .where('id', '=', orderId)
        .where('state', '=', 'held')
        .executeTakeFirst();
      if (held.numUpdatedRows === 0n) return { refused: false };
      const settled = await refundOrder(tx, orderId, reason);
      if (adminId !== null)
        await recordAdminAction(tx, adminId, 'reject_order', `order:${orderId}`, { reason });
      return { refused: false, settled };
    },
  );
  if (outcome.refused) throw reviewerNotAdmin();
  return outcome.settled;
}
