import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { isoTime } from '../db/values.js';
import { notFound } from '../domain/errors.js';
import { formatQuantity, formatUsd, readQuantity, readUsd, type Cents } from '../domain/money.js';
import { priceOrder, type OrderSize } from '../domain/pricing.js';
import { activeCrypto } from './orders.js';
import type { Page } from './pagination.js';

/** A quote as its user sees it. Money as decimal strings. */
export interface QuoteView {
  id: string;
  crypto: string;
  amount: string;
  price: string;
  total_price: string;
  expires_at: string;
}

/** A quote as support sees it: who asked, for what, and which order used it. */
export interface QuoteAdminView extends QuoteView {
  user_id: number;
  requested_total: string | null;
  created_at: string;
  used_by_order_id: number | null;
}

/** A quote as placing an order needs it. */
export interface StoredQuote {
  view: QuoteView;
  usedByOrderId: number | null;
  /** Past `expires_at` by the database's clock. */
  expired: boolean;
}

const selectQuotes = (em: EntityManager) =>
  sqlOf(em)
    .selectFrom('quotes as q')
    .innerJoin('crypto_currencies as c', 'c.id', 'q.crypto_id')
    .select([
      'q.id',
      'q.seq',
      'q.user_id',
      'c.name as crypto',
      'q.amount',
      'q.price',
      'q.total_price',
      'q.requested_total',
      'q.created_at',
      'q.expires_at',
      'q.used_by_order_id',
    ]);

type QuoteRecord = Awaited<ReturnType<ReturnType<typeof selectQuotes>['executeTakeFirstOrThrow']>>;

const toView = (row: QuoteRecord): QuoteView => ({
  id: row.id,
  crypto: row.crypto,
  amount: formatQuantity(readQuantity(row.amount)),
  price: formatUsd(readUsd(row.price)),
  total_price: formatUsd(readUsd(row.total_price)),
  expires_at: isoTime(row.expires_at),
});

const toAdminView = (row: QuoteRecord): QuoteAdminView => ({
  ...toView(row),
  user_id: row.user_id,
  requested_total: row.requested_total === null ? null : formatUsd(readUsd(row.requested_total)),
  created_at: isoTime(row.created_at),
  // bigint ids arrive as text
  used_by_order_id: row.used_by_order_id === null ? null : Number(row.used_by_order_id),
});

/**
 * Quotes a purchase at the crypto's current price, valid for `ttlMs` from now (the database's
 * clock, which also judges expiry). Moves no money; the quote is stored as shown.
 */
export async function createQuote(
  em: EntityManager,
  userId: number,
  request: { crypto: string } & OrderSize,
  options: { ttlMs: number; maxTotal: Cents },
): Promise<QuoteView> {
  const crypto = await activeCrypto(em, request.crypto);
  const priced = priceOrder(request, crypto.price, options.maxTotal);
  const id = randomUUID();
  await sqlOf(em)
    .insertInto('quotes')
    .values({
      id,
      user_id: userId,
      crypto_id: crypto.id,
      amount: formatQuantity(priced.amount),
      price: formatUsd(crypto.price),
      total_price: formatUsd(priced.total),
      requested_total: 'total' in request ? formatUsd(request.total) : null,
      expires_at: sql<Date>`now() + ${options.ttlMs} * interval '1 millisecond'`,
    })
    .execute();
  return toView(await selectQuotes(em).where('q.id', '=', id).executeTakeFirstOrThrow());
}

/** The user's quote; another user's or an unknown one is not found (404), never told apart. */
export async function findUserQuote(
  em: EntityManager,
  userId: number,
  quoteId: string,
): Promise<StoredQuote> {
  const row = await selectQuotes(em)
    .select(sql<boolean>`q.expires_at <= now()`.as('expired'))
    .where('q.id', '=', quoteId)
    .where('q.user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw notFound('quote');
  return {
    view: toView(row),
    usedByOrderId: row.used_by_order_id === null ? null : Number(row.used_by_order_id),
    expired: row.expired,
  };
}

/** Every quote, or one user's, newest first (support's view of what was shown). */
export async function listQuotes(
  em: EntityManager,
  filter: { userId?: number },
  limit: number,
  cursor?: number,
): Promise<Page<QuoteAdminView>> {
  const rows = await selectQuotes(em)
    .$if(filter.userId !== undefined, (q) => q.where('q.user_id', '=', filter.userId!))
    .$if(cursor !== undefined, (q) => q.where('q.seq', '<', cursor!))
    .orderBy('q.seq', 'desc')
    .limit(limit + 1)
    .execute();
  // The cursor is the internal `seq` (quote ids are random), so the page is cut here.
  const page = rows.slice(0, limit);
  return {
    results: page.map(toAdminView),
    next_cursor: rows.length > limit ? String(page.at(-1)!.seq) : null,
  };
}
