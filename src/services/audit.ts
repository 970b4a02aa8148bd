import type { EntityManager } from '@mikro-orm/postgresql';

/** Appends to the admin audit log; call it inside the transaction that makes the change. */
export async function recordAdminAction(
  tx: EntityManager,
  adminId: number,
  action: string,
  subject: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await tx.execute('insert into admin_actions (admin_id, action, subject, details) values (?, ?, ?, ?)', [
    adminId,
    action,
    subject,
    JSON.stringify(details),
  ]);
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
  await tx.execute(
    "insert into admin_actions (admin_id, action, subject, details) values (null, 'review_refused', ?, ?)",
    [`order:${orderId}`, JSON.stringify({ reviewer_id: reviewerId, decision, reason })],
  );
}
