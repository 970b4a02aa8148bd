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
