import type { EntityManager } from '@mikro-orm/postgresql';
import { formatUsd, readUsd } from '../domain/money.js';

export interface CryptoView {
  name: string;
  price: string;
}

export async function listActiveCryptos(em: EntityManager): Promise<CryptoView[]> {
  const rows = await em.execute<{ name: string; price: string }[]>(
    'select name, price from crypto_currencies where active order by name',
  );
  return rows.map((r) => ({ name: r.name, price: formatUsd(readUsd(r.price)) }));
}

/** Applies exchange prices to the cryptos we list; unknown names are ignored. Returns how many changed. */
export async function updatePrices(
  em: EntityManager,
  prices: { crypto: string; price: string }[],
): Promise<number> {
  let changed = 0;
  await em.transactional(async (tx) => {
    for (const { crypto, price } of prices) {
      const rows = await tx.execute<{ id: number }[]>(
        'update crypto_currencies set price = ?, updated_at = now() where name = ? and price <> ? returning id',
        [price, crypto, price],
      );
      changed += rows.length;
    }
  });
  return changed;
}
