import { sql } from 'kysely';
import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { insufficientFunds, notFound } from '../domain/errors.js';
import type { LedgerType } from '../entities/ledger-entry.js';
import { sqlOf } from '../db/kysely.js';

export async function getBalance(em: EntityManager, userId: number): Promise<Cents> {
  const row = await sqlOf(em)
    .selectFrom('wallets')
    .select('balance')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw notFound('wallet');
  return readUsd(row.balance);
}

/** Credits the wallet and appends the ledger entry in one transaction. Returns the new balance. */
export async function deposit(em: EntityManager, userId: number, amount: Cents): Promise<Cents> {
  return em.transactional(async (tx) => {
    const wallet = await creditWallet(tx, userId, amount);
    await appendEntry(tx, wallet.id, 'deposit', amount, null);
    return readUsd(wallet.balance);
  });
}

/**
 * Debits the wallet only if it holds enough: the check and the debit are one conditional UPDATE,
 * so concurrent withdrawals can never overdraw it.
 */
export async function withdraw(em: EntityManager, userId: number, amount: Cents): Promise<Cents> {
  return em.transactional(async (tx) => {
    const wallet = await debitWallet(tx, userId, amount);
    await appendEntry(tx, wallet.id, 'withdrawal', amount, null);
    return readUsd(wallet.balance);
  });
}

/**
 * The conditional debit shared by withdrawals and order placement; must run inside a transaction.
 * The balance is changed by the database in the same statement that checks it (never read, changed
 * and written back), which is what keeps concurrent debits from overdrawing the wallet.
 */
export async function debitWallet(tx: EntityManager, userId: number, amount: Cents) {
  const amountText = formatUsd(amount);
  const wallet = await sqlOf(tx)
    .updateTable('wallets')
    .set({ balance: sql`balance - ${amountText}::numeric`, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('balance', '>=', amountText)
    .returning(['id', 'balance'])
    .executeTakeFirst();
  if (!wallet) {
    const exists = await sqlOf(tx)
      .selectFrom('wallets')
      .select('id')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    throw exists ? insufficientFunds() : notFound('wallet');
  }
  return wallet;
}

/** Adds to the wallet in the statement that reads it, like the debit. */
export async function creditWallet(tx: EntityManager, userId: number, amount: Cents) {
  const wallet = await sqlOf(tx)
    .updateTable('wallets')
    .set({ balance: sql`balance + ${formatUsd(amount)}::numeric`, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .returning(['id', 'balance'])
    .executeTakeFirst();
  if (!wallet) throw notFound('wallet');
  return wallet;
}

export async function appendEntry(
  tx: EntityManager,
  walletId: number,
  type: LedgerType,
  amount: Cents,
  orderId: number | null,
): Promise<void> {
  await sqlOf(tx)
    .insertInto('transactions')
    .values({ wallet_id: walletId, type, amount: formatUsd(amount), order_id: orderId })
    .execute();
}
