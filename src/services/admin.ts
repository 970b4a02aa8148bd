import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { badRequest, notFound } from '../domain/errors.js';
import { selectOrders, toOrderView } from './orders.js';
import { recordAdminAction } from './audit.js';
import { reconcile } from './ledger.js';
import { isoTime } from '../db/values.js';
import { toPage, type Page } from './pagination.js';
import type { OrderView } from '../domain/orders.js';

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
  const row = await sqlOf(em)
    .selectFrom('orders')
    .select('state')
    .where('id', '=', orderId)
    .executeTakeFirst();
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
  /** The market's minimum order value, copied by the refresh; the pooling threshold never goes below it. */
  min_notional: string;
}

const CRYPTO_ADMIN_COLUMNS = [
  'name',
  'price',
  'active',
  'price_source',
  'price_refreshed_at',
  'min_notional',
] as const;

const toCryptoAdminView = (row: {
  name: string;
  price: string;
  active: boolean;
  price_source: CryptoAdminView['price_source'];
  price_refreshed_at: Date | null;
  min_notional: string;
}): CryptoAdminView => ({
  name: row.name,
  price: formatUsd(readUsd(row.price)),
  active: row.active,
  price_source: row.price_source,
  price_refreshed_at: row.price_refreshed_at === null ? null : isoTime(row.price_refreshed_at),
  min_notional: formatUsd(readUsd(row.min_notional)),
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
    const row = await sqlOf(tx)
      .updateTable('crypto_currencies')
      .set({
        ...(change.price ? { price: formatUsd(change.price) } : {}),
        ...(pin ? { price_source: pin } : {}),
        ...(change.active === undefined ? {} : { active: change.active }),
        updated_at: sql`now()`,
      })
      .where('name', '=', name)
      .returning(CRYPTO_ADMIN_COLUMNS)
      .executeTakeFirst();
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
  const rows = await sqlOf(em)
    .selectFrom('crypto_currencies')
    .select(CRYPTO_ADMIN_COLUMNS)
    .orderBy('name')
    .execute();
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
  const rows = await sqlOf(em)
    .selectFrom('wallets as w')
    .innerJoin('users as u', 'u.id', 'w.user_id')
    .select(['w.user_id', 'u.username', 'w.balance'])
    .$if(cursor !== undefined, (q) => q.where('w.user_id', '>', cursor!))
    .orderBy('w.user_id')
    .limit(limit + 1)
    .execute();
  const view = (r: (typeof rows)[number]) => ({ ...r, balance: formatUsd(readUsd(r.balance)) });
  return toPage(rows, limit, view, (item) => item.user_id);
}

/** Reconciliation on an admin's request; the request itself is audited. */
export async function auditedReconcile(em: EntityManager, adminId: number) {
  const result = await reconcile(em);
  await recordAdminAction(em, adminId, 'reconcile', 'wallets', {
    mismatches: result.mismatches.length,
    house_failures: result.house.failures.length,
  });
  return result;
}
