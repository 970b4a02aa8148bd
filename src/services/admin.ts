import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { badRequest, notFound } from '../domain/errors.js';
import { selectOrders, toOrderView } from './orders.js';
import { recordAdminAction } from './audit.js';
import { reconcile } from './ledger.js';
import { isoTime } from '../db/values.js';
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
  const rows = await selectOrders(em)
    .innerJoin('users as u', 'u.id', 'o.user_id')
    .select(['o.user_id', 'u.username', 'o.fraud_rule', 'o.fraud_reason'])
    .where('o.state', '=', 'held')
    .$if(cursor !== undefined, (q) => q.where('o.id', '<', cursor!))
    .orderBy('o.id', 'desc')
    .limit(limit + 1)
    .execute();
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
  /** `manual` while an admin's price is pinned; the scheduled refresh only changes `exchange` prices. */
  price_source: 'exchange' | 'manual';
  /** When the refresh last copied the exchange's price (null if it never has). */
  price_refreshed_at: string | null;
}

type CryptoAdminRow = {
  name: string;
  price: string;
  active: boolean;
  price_source: 'exchange' | 'manual';
  price_refreshed_at: string | Date | null;
};

const CRYPTO_ADMIN_COLUMNS = 'name, price, active, price_source, price_refreshed_at';

const toCryptoAdminView = (row: CryptoAdminRow): CryptoAdminView => ({
  name: row.name,
  price: formatUsd(readUsd(row.price)),
  active: row.active,
  price_source: row.price_source,
  price_refreshed_at: row.price_refreshed_at === null ? null : isoTime(row.price_refreshed_at),
});

/**
 * Pins a crypto's price (`price`: the scheduled refresh leaves it alone) or unpins it (`price:
 * null`: the next refresh copies the exchange's again), and/or (de)activates it, with the audit
 * record in the same transaction.
 */
export async function updateCrypto(
  em: EntityManager,
  adminId: number,
  name: string,
  change: { price?: Cents | null; active?: boolean },
): Promise<CryptoAdminView> {
  if (change.price === undefined && change.active === undefined) {
    throw badRequest('empty_change', 'give a price (or null to unpin it), an active flag, or both');
  }
  const pin = change.price === undefined ? null : change.price === null ? 'exchange' : 'manual';
  return em.transactional(async (tx) => {
    const [row] = await tx.execute<CryptoAdminRow[]>(
      `update crypto_currencies set price = coalesce(?, price), price_source = coalesce(?, price_source),
              active = coalesce(?, active), updated_at = now()
        where name = ? returning ${CRYPTO_ADMIN_COLUMNS}`,
      [change.price ? formatUsd(change.price) : null, pin, change.active ?? null, name],
    );
    if (!row) throw notFound('cryptocurrency');
    await recordAdminAction(tx, adminId, 'update_crypto', `crypto:${name}`, {
      ...(change.price === undefined
        ? {}
        : { price: change.price === null ? null : formatUsd(change.price) }),
      ...(change.active === undefined ? {} : { active: change.active }),
    });
    return toCryptoAdminView(row);
  });
}

export async function listCryptos(em: EntityManager): Promise<CryptoAdminView[]> {
  const rows = await em.execute<CryptoAdminRow[]>(
    `select ${CRYPTO_ADMIN_COLUMNS} from crypto_currencies order by name`,
  );
  return rows.map(toCryptoAdminView);
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
