import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd } from '../domain/money.js';
import { notFound } from '../domain/errors.js';
import { isoTime } from '../db/values.js';
import { toPage, type Page } from './pagination.js';

export interface LedgerEntryView {
  id: number;
  type: 'deposit' | 'withdrawal' | 'refund';
  amount: string;
  order_id: number | null;
  created_at: string;
}

interface EntryRow {
  id: string;
  type: LedgerEntryView['type'];
  amount: string;
  order_id: string | null;
  created_at: string | Date;
}

const toView = (row: EntryRow): LedgerEntryView => ({
  id: Number(row.id),
  type: row.type,
  amount: formatUsd(readUsd(row.amount)),
  order_id: row.order_id === null ? null : Number(row.order_id),
  created_at: isoTime(row.created_at),
});

const SELECT = `select t.id, t.type, t.amount, t.order_id, t.created_at
  from transactions t join wallets w on w.id = t.wallet_id`;

/** The caller's entries, newest first; `cursor` is the id of the last entry of the previous page. */
export async function listEntries(
  em: EntityManager,
  userId: number,
  limit: number,
  cursor?: number,
): Promise<Page<LedgerEntryView>> {
  const rows = await em.execute<EntryRow[]>(
    `${SELECT} where w.user_id = ? and (?::bigint is null or t.id < ?) order by t.id desc limit ?`,
    [userId, cursor ?? null, cursor ?? null, limit + 1],
  );
  return toPage(rows, limit, toView, (item) => item.id);
}

export async function getEntry(em: EntityManager, userId: number, id: number): Promise<LedgerEntryView> {
  const [row] = await em.execute<EntryRow[]>(`${SELECT} where w.user_id = ? and t.id = ?`, [userId, id]);
  if (!row) throw notFound('transaction');
  return toView(row);
}

export interface ReconcileMismatch {
  wallet_id: number;
  user_id: number;
  balance: string;
  ledger_sum: string;
}

/** Checks balance = sum(ledger) for every wallet; returns the wallets where it does not hold. */
export async function reconcile(
  em: EntityManager,
): Promise<{ wallets: number; mismatches: ReconcileMismatch[] }> {
  const rows = await em.execute<
    { wallet_id: number; user_id: number; balance: string; ledger_sum: string }[]
  >(
    `select w.id as wallet_id, w.user_id, w.balance,
            coalesce(sum(case t.type when 'withdrawal' then -t.amount else t.amount end), 0) as ledger_sum
       from wallets w left join transactions t on t.wallet_id = w.id
      group by w.id order by w.id`,
  );
  const mismatches = rows
    .filter((r) => readUsd(r.balance) !== readUsd(r.ledger_sum))
    .map((r) => ({
      wallet_id: r.wallet_id,
      user_id: r.user_id,
      balance: formatUsd(readUsd(r.balance)),
      ledger_sum: formatUsd(readUsd(r.ledger_sum)),
    }));
  return { wallets: rows.length, mismatches };
}
