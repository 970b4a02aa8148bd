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

/** Credits the wallet with its ledger entry. Returns the new balance. */
export async function deposit(em: EntityManager, userId: number, amount: Cents): Promise<Cents> {
  const wallet = await creditWallet(em, userId, amount, { type: 'deposit', orderId: null });
  return readUsd(wallet.balance);
}

/** Debits the wallet, only if it holds enough, with its ledger entry. Returns the new balance. */
export async function withdraw(em: EntityManager, userId: number, amount: Cents): Promise<Cents> {
  const wallet = await debitWallet(em, userId, amount, { type: 'withdrawal', orderId: null });
  return readUsd(wallet.balance);
}

/** The ledger entry a wallet change appends: why the money moved, and for which order. */
export interface EntryOf {
  type: LedgerType;
  orderId: number | null;
}

/**
 * Moves `amount` out of the wallet (`debit`, and only if it holds that much) or into it, and
 * appends the ledger entry, in one statement: the entry exists exactly when the change happened,
 * even outside a transaction. The balance is changed by the database in the statement that checks
 * it (never read, changed and written back), which is what keeps concurrent debits from overdrawing
 * the wallet. Undefined when no wallet of the user matched (none, or not enough for a debit).
 */
async function moveMoney(
  em: EntityManager,
  userId: number,
  direction: 'debit' | 'credit',
  amount: Cents,
  entry: EntryOf,
): Promise<{ id: number; balance: string } | undefined> {
  const amountText = formatUsd(amount);
  const debit = direction === 'debit';
  return sqlOf(em)
    .with('wallet', (db) =>
      db
        .updateTable('wallets')
        .set({
          balance: debit ? sql`balance - ${amountText}::numeric` : sql`balance + ${amountText}::numeric`,
          updated_at: sql`now()`,
        })
        .where('user_id', '=', userId)
        .$if(debit, (q) => q.where('balance', '>=', amountText))
        .returning(['id', 'balance']),
    )
    .with('entry', (db) =>
      db
        .insertInto('transactions')
        .columns(['wallet_id', 'type', 'amount', 'order_id'])
        .expression((q) =>
          q
            .selectFrom('wallet')
            .select([
              'wallet.id',
              sql.lit(entry.type).as('type'),
              sql<string>`${amountText}::numeric`.as('amount'),
              sql<number | null>`${entry.orderId}::bigint`.as('order_id'),
            ]),
        ),
    )
    .selectFrom('wallet')
    .select(['id', 'balance'])
    .executeTakeFirst();
}

/** Debits the wallet, with its ledger entry, only if it holds `amount`; refused otherwise. */
export async function debitWallet(em: EntityManager, userId: number, amount: Cents, entry: EntryOf) {
  const wallet = await moveMoney(em, userId, 'debit', amount, entry);
  if (!wallet) {
    const exists = await sqlOf(em)
      .selectFrom('wallets')
      .select('id')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    throw exists ? insufficientFunds() : notFound('wallet');
  }
  return wallet;
}

/** Credits the wallet with its ledger entry. */
export async function creditWallet(em: EntityManager, userId: number, amount: Cents, entry: EntryOf) {
  const wallet = await moveMoney(em, userId, 'credit', amount, entry);
  if (!wallet) throw notFound('wallet');
  return wallet;
}
