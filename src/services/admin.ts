import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { badRequest, notFound } from '../domain/errors.js';
import { toOrderView, type OrderRow } from './orders.js';
import { recordAdminAction } from './audit.js';
import { reconcile } from './ledger.js';
import { toPage, type Page } from './pagination.js';
import type { OrderView } from '../workflows/definitions.js';

export interface HeldOrderView extends OrderView {
  user_id: number;
  username: string;
  fraud_rule: string | null;
  fraud_reason: string | null;
}

export async function listHeldOrders(
  em: EntityManager,
  limit: number,
  cursor?: number,
): Promise<Page<HeldOrderView>> {
  const rows = await em.execute<
    (OrderRow & {
      user_id: number;
      username: string;
      fraud_rule: string | null;
      fraud_reason: string | null;
    })[]
  >(
    `select o.id, c.name as crypto, o.amount, o.price, o.total_price, o.state, o.batch_id, o.failure_reason,
            o.created_at, o.updated_at, o.user_id, u.username, o.fraud_rule, o.fraud_reason
       from orders o join crypto_currencies c on c.id = o.crypto_id join users u on u.id = o.user_id
      where o.state = 'held' and (?::bigint is null or o.id < ?) order by o.id desc limit ?`,
    [cursor ?? null, cursor ?? null, limit + 1],
  );
  const view = (r: (typeof rows)[number]): HeldOrderView => ({
    ...toOrderView(r),
    user_id: r.user_id,
    username: r.username,
    fraud_rule: r.fraud_rule,
    fraud_reason: r.fraud_reason,
  });
  return toPage(rows, limit, view, (item) => item.id);
}

export async function heldOrderState(em: EntityManager, orderId: number): Promise<string> {
  const [row] = await em.execute<{ state: string }[]>('select state from orders where id = ?', [orderId]);
  if (!row) throw notFound('order');
  return row.state;
}

export interface CryptoAdminView {
  name: string;
  price: string;
  active: boolean;
}

/** Sets a crypto's price and/or deactivates it, with the audit record in the same transaction. */
export async function updateCrypto(
  em: EntityManager,
  adminId: number,
  name: string,
  change: { price?: Cents; active?: boolean },
): Promise<CryptoAdminView> {
  if (change.price === undefined && change.active === undefined) {
    throw badRequest('empty_change', 'give a price, an active flag, or both');
  }
  return em.transactional(async (tx) => {
    const [row] = await tx.execute<{ name: string; price: string; active: boolean }[]>(
      `update crypto_currencies set price = coalesce(?, price), active = coalesce(?, active), updated_at = now()
        where name = ? returning name, price, active`,
      [change.price === undefined ? null : formatUsd(change.price), change.active ?? null, name],
    );
    if (!row) throw notFound('cryptocurrency');
    await recordAdminAction(tx, adminId, 'update_crypto', `crypto:${name}`, {
      ...(change.price === undefined ? {} : { price: formatUsd(change.price) }),
      ...(change.active === undefined ? {} : { active: change.active }),
    });
    return { name: row.name, price: formatUsd(readUsd(row.price)), active: row.active };
  });
}

export async function listCryptos(em: EntityManager): Promise<CryptoAdminView[]> {
  const rows = await em.execute<{ name: string; price: string; active: boolean }[]>(
    'select name, price, active from crypto_currencies order by name',
  );
  return rows.map((r) => ({ name: r.name, price: formatUsd(readUsd(r.price)), active: r.active }));
}

export interface WalletAdminView {
  user_id: number;
  username: string;
  balance: string;
}

export async function listWallets(
  em: EntityManager,
  limit: number,
  cursor?: number,
): Promise<Page<WalletAdminView>> {
  const rows = await em.execute<{ user_id: number; username: string; balance: string }[]>(
    `select w.user_id, u.username, w.balance from wallets w join users u on u.id = w.user_id
      where (?::int is null or w.user_id > ?) order by w.user_id limit ?`,
    [cursor ?? null, cursor ?? null, limit + 1],
  );
  const view = (r: (typeof rows)[number]) => ({ ...r, balance: formatUsd(readUsd(r.balance)) });
  return toPage(rows, limit, view, (item) => item.user_id);
}

/** Reconciliation on an admin's request; the request itself is audited. */
export async function auditedReconcile(em: EntityManager, adminId: number) {
  const result = await reconcile(em);
  await recordAdminAction(em, adminId, 'reconcile', 'wallets', { mismatches: result.mismatches.length });
  return result;
}
