import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt, updatedAt } from './timestamps.js';
import { User } from './user.js';

/** One USD wallet per user. `balance` always equals the sum of the wallet's ledger entries. */
export const Wallet = defineEntity({
  name: 'Wallet',
  tableName: 'wallets',
  properties: {
    id: p.integer().primary().autoincrement(),
    user: () => p.oneToOne(User).owner().unique(),
    balance: p.decimal('string').precision(20).scale(2).default('0.00'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  checks: [{ name: 'wallets_balance_non_negative', expression: 'balance >= 0' }],
});
export type IWallet = InferEntity<typeof Wallet>;
