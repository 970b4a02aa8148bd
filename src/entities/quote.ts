import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { User } from './user.js';
import { CryptoCurrency } from './crypto-currency.js';
import { Order } from './order.js';

/**
 * A price shown to a user, valid until `expiresAt`: kept so support can see what was quoted, and
 * consumed by the one order that uses it (`usedByOrder`, set in that order's debit transaction).
 * `requestedTotal` is the USD total asked for when the quote was for dollars, not a quantity.
 * `seq` orders the admin list and is its cursor.
 */
export const Quote = defineEntity({
  name: 'Quote',
  tableName: 'quotes',
  properties: {
    id: p.uuid().primary(),
    seq: p.bigint('number').autoincrement().unique(),
    user: () => p.manyToOne(User),
    crypto: () => p.manyToOne(CryptoCurrency),
    amount: p.decimal('string').precision(28).scale(8),
    price: p.decimal('string').precision(20).scale(2),
    totalPrice: p.decimal('string').precision(20).scale(2),
    requestedTotal: p.decimal('string').precision(20).scale(2).nullable(),
    createdAt: createdAt(),
    expiresAt: p.datetime(),
    usedByOrder: () => p.oneToOne(Order).owner().nullable().deleteRule('no action'),
  },
  indexes: [{ name: 'quotes_user_id_index', properties: ['user', 'seq'] }],
  checks: [
    { name: 'quotes_amount_check', expression: 'amount > 0' },
    { name: 'quotes_price_check', expression: 'price > 0' },
    { name: 'quotes_total_price_check', expression: 'total_price > 0' },
    { name: 'quotes_check', expression: 'expires_at > created_at' },
  ],
});
export type IQuote = InferEntity<typeof Quote>;
