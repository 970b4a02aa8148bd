import type { EntityManager } from '@mikro-orm/postgresql';
import type { LedgerType } from '../entities/ledger-entry.js';
import { formatUsd, readUsd } from '../domain/money.js';
import { notFound } from '../domain/errors.js';
import { isoTime } from '../db/values.js';
import { sqlOf } from '../db/kysely.js';
import { sql } from 'kysely';
import { toPage, type Page } from './pagination.js';
import { reconcileHouse, type HouseReconciliation } from './house.js';

export interface LedgerEntryView {
  id: number;
  type: LedgerType;
  amount: string;
  order_id: number | null;
  created_at: string;
}

const selectEntries = (em: EntityManager, userId: number) =>
  sqlOf(em)
    .selectFrom('transactions as t')
    .innerJoin('wallets as w', 'w.id', 't.wallet_id')
    .select(['t.id', 't.type', 't.amount', 't.order_id', 't.created_at'])
    .where('w.user_id', '=', userId);

type EntryRecord = Awaited<ReturnType<ReturnType<typeof selectEntries>['executeTakeFirstOrThrow']>>;

// bigint ids arrive as text
const toView = (row: EntryRecord): LedgerEntryView => ({
  id: Number(row.id),
  type: row.type,
  amount: formatUsd(readUsd(row.amount)),
  order_id: row.order_id === null ? null : Number(row.order_id),
  created_at: isoTime(row.created_at),
});

/** The caller's entries, newest first; `cursor` is the id of the last entry of the previous page. */
export async function listEntries(
  em: EntityManager,
  userId: number,
  limit: number,
  cursor?: number,
): Promise<Page<LedgerEntryView>> {
  const rows = await selectEntries(em, userId)
    .$if(cursor !== undefined, (q) => q.where('t.id', '<', cursor!))
    .orderBy('t.id', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, toView, (item) => item.id);
}

export async function getEntry(em: EntityManager, userId: number, id: number): Promise<LedgerEntryView> {
  const row = await selectEntries(em, userId).where('t.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('transaction');
  return toView(row);
}

export interface ReconcileMismatch {
  wallet_id: number;
  user_id: number;
  balance: string;
  ledger_sum: string;
}

export interface Reconciliation {
  wallets: number;
  /** Wallets whose balance is not the sum of their ledger. */
  mismatches: ReconcileMismatch[];
  /** The house account and every completed purchase checked against it. */
  house: HouseReconciliation;
}

/**
 * Checks balance = sum(ledger) for every wallet, and every completed exchange purchase against the
 * house account (services/house.ts); returns what does not hold.
 */
export async function reconcile(em: EntityManager): Promise<Reconciliation> {
  const rows = await sqlOf(em)
    .selectFrom('wallets as w')
    .leftJoin('transactions as t', 't.wallet_id', 'w.id')
    .select([
      'w.id as wallet_id',
      'w.user_id',
      'w.balance',
      sql<string>`coalesce(sum(case t.type when 'withdrawal' then -t.amount else t.amount end), 0)`.as(
        'ledger_sum',
      ),
    ])
    .groupBy('w.id')
    .orderBy('w.id')
    .execute();
  const mismatches = rows
    .filter((r) => readUsd(r.balance) !== readUsd(r.ledger_sum))
    .map((r) => ({
      wallet_id: r.wallet_id,
      user_id: r.user_id,
      balance: formatUsd(readUsd(r.balance)),
      ledger_sum: formatUsd(readUsd(r.ledger_sum)),
    }));
  return { wallets: rows.length, mismatches, house: await reconcileHouse(em) };
}

/**
 * `reconcile` in one read-only snapshot (repeatable read), so a purchase that commits while it runs
 * cannot show up as a disagreement; cancelled after `statementTimeoutMs` rather than left holding
 * the snapshot. For the periodic check, which runs beside live traffic.
 */
export async function reconcileSnapshot(
  em: EntityManager,
  statementTimeoutMs: number,
): Promise<Reconciliation> {
  return em.transactional(
    async (tx) => {
      await tx.execute(`set local statement_timeout = ${Math.trunc(statementTimeoutMs)}`);
      return reconcile(tx);
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
}
