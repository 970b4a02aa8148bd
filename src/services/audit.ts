import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';

/** Appends to the admin audit log; call it inside the transaction that makes the change. */
export async function recordAdminAction(
  tx: EntityManager,
  adminId: number,
  action: string,
  subject: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await sqlOf(tx)
    .insertInto('admin_actions')
    .values({ admin_id: adminId, action, subject, details })
    .execute();
}

/**
 * Records an attempt to review a held order by someone who is not an admin (or no user at all).
 * The log's admin column stays empty: the claimed reviewer is kept in the details.
 */
export async function recordRefusedReview(
  tx: EntityManager,
  reviewerId: number,
  decision: 'approve' | 'reject',
  orderId: number,
  reason: string,
): Promise<void> {
  await sqlOf(tx)
    .insertInto('admin_actions')
    .values({
      admin_id: null,
      action: 'review_refused',
      subject: `order:${orderId}`,
      details: { reviewer_id: reviewerId, decision, reason },
    })
    .execute();
}
