import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';
import { ExchangePurchase } from './exchange-purchase.js';
import { HOUSE_ENTRY_KINDS } from '../domain/house.js';

/**
 * The house account (see src/domain/house.ts): what each exchange purchase cost or left the house.
 * `amount` is a signed USD value, `quantity` a signed quantity of `asset` (null for cash kinds).
 * Append-only like the ledger; one entry of each kind per purchase.
 */
export const HouseEntry = defineEntity({
  name: 'HouseEntry',
  tableName: 'house_entries',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    purchase: () => p.manyToOne(ExchangePurchase).fieldName('purchase_id').deleteRule('no action'),
    kind: p.enum(HOUSE_ENTRY_KINDS),
    asset: p.string().length(16),
    amount: p.decimal('string').precision(28).scale(8),
    quantity: p.decimal('string').precision(28).scale(8).nullable(),
    createdAt: createdAt(),
  },
  uniques: [{ name: 'house_entries_purchase_id_kind_unique', properties: ['purchase', 'kind'] }],
});
export type IHouseEntry = InferEntity<typeof HouseEntry>;
