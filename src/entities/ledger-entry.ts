import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Wallet } from './wallet.js';

export const LEDGER_TYPES = ['deposit', 'withdrawal', 'refund'] as const;
export type LedgerType = (typeof LEDGER_TYPES)[number];

/**
 * Append-only ledger (table `transactions`): every change of a wallet balance is one row.
 * `amount` is positive; `deposit` and `refund` add it, `withdrawal` subtracts it.
 * A database trigger refuses UPDATE and DELETE.
 */
export const LedgerEntry = defineEntity({
  name: 'LedgerEntry',
  tableName: 'transactions',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    wallet: () => p.manyToOne(Wallet).index(),
    type: p.enum(LEDGER_TYPES),
    amount: p.decimal('string').precision(20).scale(2),
    orderId: p.bigint('number').nullable().index(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ILedgerEntry = InferEntity<typeof LedgerEntry>;
