import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { updatedAt } from './timestamps.js';

/** `exchange`: copied by the scheduled refresh; `manual`: pinned by an admin, left alone by it. */
export const PRICE_SOURCES = ['exchange', 'manual'] as const;

export const CryptoCurrency = defineEntity({
  name: 'CryptoCurrency',
  tableName: 'crypto_currencies',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(10).unique(),
    price: p.decimal('string').precision(20).scale(2),
    active: p.boolean().default(true),
    priceSource: p.enum(PRICE_SOURCES).columnType('varchar(16)').default('exchange'),
    priceRefreshedAt: p.datetime().nullable(),
    /** The market's minimum order value (cents), set by the price refresh; pooling never goes below it. */
    minNotional: p.decimal('string').precision(20).scale(2).default('0.00'),
    updatedAt: updatedAt(),
  },
  checks: [
    { name: 'crypto_currencies_price_positive', expression: 'price > 0' },
    { name: 'crypto_currencies_min_notional_check', expression: 'min_notional >= 0' },
  ],
});
export type ICryptoCurrency = InferEntity<typeof CryptoCurrency>;
