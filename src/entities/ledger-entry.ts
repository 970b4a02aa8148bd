import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { Wallet } from './wallet.js';
import { Order } from './order.js';

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
    wallet: () => p.manyToOne(Wallet),
    type: p.enum(LEDGER_TYPES),
    amount: p.decimal('string').precision(20).scale(2),
    order: () => p.manyToOne(Order).nullable().deleteRule('no action'),
    createdAt: createdAt(),
  },
  indexes: [{ properties: ['wallet', 'id'] }],
  // An order is debited at most once and refunded at most once, whatever retries happen.
  uniques: [
    {
      name: 'transactions_order_id_type_unique',
      properties: ['order', 'type'],
      where: 'order_id is not null',
    },
  ],
  checks: [{ name: 'transactions_amount_positive', expression: 'amount > 0' }],
});
export type ILedgerEntry = InferEntity<typeof LedgerEntry>;
