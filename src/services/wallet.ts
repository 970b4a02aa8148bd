import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { insufficientFunds, notFound } from '../domain/errors.js';

interface WalletRow {
  id: number;
  balance: string;
}

export async function getBalance(em: EntityManager, userId: number): Promise<Cents> {
  const [row] = await em.execute<WalletRow[]>('select id, balance from wallets where user_id = ?', [userId]);
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

/** The conditional debit shared by withdrawals and order placement; must run inside a transaction. */
export async function debitWallet(tx: EntityManager, userId: number, amount: Cents): Promise<WalletRow> {
  const amountText = formatUsd(amount);
  const [wallet] = await tx.execute<WalletRow[]>(
    `update wallets set balance = balance - ?, updated_at = now()
      where user_id = ? and balance >= ? returning id, balance`,
    [amountText, userId, amountText],
  );
  if (!wallet) {
    const [exists] = await tx.execute<WalletRow[]>('select id from wallets where user_id = ?', [userId]);
    throw exists ? insufficientFunds() : notFound('wallet');
  }
  return wallet;
}

export async function creditWallet(tx: EntityManager, userId: number, amount: Cents): Promise<WalletRow> {
  const [wallet] = await tx.execute<WalletRow[]>(
    'update wallets set balance = balance + ?, updated_at = now() where user_id = ? returning id, balance',
    [formatUsd(amount), userId],
  );
  if (!wallet) throw notFound('wallet');
  return wallet;
}

export async function appendEntry(
  tx: EntityManager,
  walletId: number,
  type: 'deposit' | 'withdrawal' | 'refund',
  amount: Cents,
  orderId: number | null,
): Promise<void> {
  await tx.execute('insert into transactions (wallet_id, type, amount, order_id) values (?, ?, ?, ?)', [
    walletId,
    type,
    formatUsd(amount),
    orderId,
  ]);
}
