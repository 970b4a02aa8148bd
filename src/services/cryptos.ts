import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';
import { formatUsd, readUsd } from '../domain/money.js';

export interface CryptoView {
  name: string;
  price: string;
}

export async function listActiveCryptos(em: EntityManager): Promise<CryptoView[]> {
  const rows = await sqlOf(em)
    .selectFrom('crypto_currencies')
    .select(['name', 'price'])
    .where('active', '=', true)
    .orderBy('name')
    .execute();
  return rows.map((r) => ({ name: r.name, price: formatUsd(readUsd(r.price)) }));
}

/**
 * Applies exchange prices to the cryptos we list whose price is not pinned by an admin; unknown
 * names are ignored. Every such crypto records the refresh time. Returns how many prices changed.
 */
export async function updatePrices(
  em: EntityManager,
  prices: { crypto: string; price: string }[],
): Promise<number> {
  let changed = 0;
  await em.transactional(async (tx) => {
    for (const { crypto, price } of prices) {
      // Raw SQL on purpose: the row is locked, compared with its previous price and updated in
      // one statement, so a pin by an admin in between is never overwritten.
      const rows = await tx.execute<{ changed: boolean }[]>(
        `with previous as (
           select id, price from crypto_currencies where name = ? and price_source = 'exchange' for update
         )
         update crypto_currencies c set price = ?, price_refreshed_at = now(),
                updated_at = case when previous.price <> ? then now() else c.updated_at end
           from previous where c.id = previous.id
         returning previous.price <> c.price as changed`,
        [crypto, price, price],
      );
      changed += rows.filter((r) => r.changed).length;
    }
  });
  return changed;
}
