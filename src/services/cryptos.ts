import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';
import { formatUsd, parseUsd, readUsd, type Cents } from '../domain/money.js';
import { DataError } from '../domain/errors.js';
import { poolThreshold } from '../domain/orders.js';
import type { MarketQuote } from '../exchange/exchange.js';

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

/** Every crypto the service lists, on sale or not: the markets the price refresh asks for. */
export async function listedCryptoNames(em: EntityManager): Promise<string[]> {
  const rows = await sqlOf(em).selectFrom('crypto_currencies').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}

/** The pooling threshold of one crypto now: the configured one, or its market minimum if higher. */
export async function currentPoolThreshold(
  em: EntityManager,
  crypto: string,
  configured: Cents,
): Promise<Cents> {
  const row = await sqlOf(em)
    .selectFrom('crypto_currencies')
    .select('min_notional')
    .where('name', '=', crypto)
    .executeTakeFirst();
  return poolThreshold(configured, row ? readUsd(row.min_notional) : 0n);
}

/** Reads a market quote from the exchange; a malformed one is a DataError naming the crypto. */
function readQuote(quote: MarketQuote): { crypto: string; price: string; minNotional: string } {
  const refuse = (field: string, message: string) =>
    new DataError(`malformed market quote for ${String(quote.crypto)}: ${field}: ${message}`);
  const price = parseUsd(quote.price);
  if (!price.ok) throw refuse('price', price.message);
  // A market without a minimum says 0.00, which parseUsd (positive amounts) refuses.
  const minimum = /^0(?:\.0{1,2})?$/.test(String(quote.minNotional)) ? 0n : parseUsd(quote.minNotional);
  if (typeof minimum !== 'bigint' && !minimum.ok) throw refuse('minNotional', minimum.message);
  const minNotional = typeof minimum === 'bigint' ? minimum : minimum.value;
  return { crypto: quote.crypto, price: formatUsd(price.value), minNotional: formatUsd(minNotional) };
}

/**
 * Applies the exchange's markets to the cryptos we list; unknown names are ignored. The minimum
 * notional is always copied (it is the market's rule); the price only where no admin pinned it,
 * and such a crypto records the refresh time. Returns how many prices changed.
 */
export async function updatePrices(em: EntityManager, quotes: MarketQuote[]): Promise<number> {
  const markets = quotes.map(readQuote);
  let changed = 0;
  await em.transactional(async (tx) => {
    for (const { crypto, price, minNotional } of markets) {
      // Raw SQL on purpose: the row is locked, compared with its previous price and updated in
      // one statement, so a pin by an admin in between is never overwritten.
      const rows = await tx.execute<{ changed: boolean }[]>(
        `with previous as (
           select id, price, price_source = 'exchange' as refreshed
             from crypto_currencies where name = ? for update
         )
         update crypto_currencies c
            set price = case when previous.refreshed then ?::numeric else c.price end,
                price_refreshed_at = case when previous.refreshed then now() else c.price_refreshed_at end,
                min_notional = ?::numeric,
                updated_at = case when (previous.refreshed and previous.price <> ?::numeric)
                                    or c.min_notional <> ?::numeric then now() else c.updated_at end
           from previous where c.id = previous.id
         returning previous.price <> c.price as changed`,
        [crypto, price, minNotional, price, minNotional],
      );
      changed += rows.filter((r) => r.changed).length;
    }
  });
  return changed;
}
