import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { isoTime, pgIdArray, pgTextArray } from '../db/values.js';
import { formatQuantity, formatUsd, readQuantity, readUsd } from '../domain/money.js';
import type { OrderState } from '../domain/orders.js';
import { toPage, type Page } from './pagination.js';
import { houseEntries, type ParsedFill, type PurchaseFigures } from '../domain/house.js';

/**
 * Whether a purchase is already recorded under this client order id (a retried completion): a
 * column for the query that locks the order or batch, so the check costs no round trip of its own.
 */
export const purchaseRecorded = (clientOrderId: string) =>
  sql<boolean>`exists (select 1 from exchange_purchases where client_order_id = ${clientOrderId})`;

/**
 * Writes the exchange purchase and its house entries. Called inside the transaction that completes
 * the purchase's orders, so the fill, the house's share and the completion commit together.
 */
export async function recordPurchase(
  tx: EntityManager,
  subject: { orderId: number } | { batchId: string },
  cryptoId: number,
  figures: PurchaseFigures & { fill: ParsedFill },
): Promise<void> {
  const { fill } = figures;
  const purchase = {
    client_order_id: fill.clientOrderId,
    order_id: 'orderId' in subject ? subject.orderId : null,
    batch_id: 'batchId' in subject ? subject.batchId : null,
    crypto_id: cryptoId,
    symbol: fill.symbol,
    exchange_order_id: fill.exchangeOrderId,
    quote_asked: formatUsd(figures.quoteAsked),
    quote_spent: formatQuantity(fill.quoteSpent),
    quantity: formatQuantity(fill.quantity),
    average_price: formatQuantity(fill.averagePrice),
    commission: formatQuantity(fill.commission),
    commission_asset: fill.commissionAsset,
  };
  const entries = houseEntries(figures).map((e) => ({
    purchase_id: fill.clientOrderId,
    kind: e.kind,
    asset: e.asset,
    amount: formatQuantity(e.amount),
    quantity: e.quantity === null ? null : formatQuantity(e.quantity),
  }));
  const db = sqlOf(tx);
  if (entries.length === 0) {
    await db.insertInto('exchange_purchases').values(purchase).execute();
    return;
  }
  // One statement: the entries' foreign key is checked at its end, when the purchase is there.
  await db
    .with('purchase', (q) => q.insertInto('exchange_purchases').values(purchase))
    .insertInto('house_entries')
    .values(entries)
    .execute();
}

export interface PurchaseOrderView {
  id: number;
  user_id: number;
  amount: string;
  total_price: string;
  state: OrderState;
}

/** One exchange purchase, an order bought alone or a batch, with its fill and its orders. */
export interface PurchaseView {
  /** Its place in the list, newest highest (the list's cursor). */
  id: number;
  client_order_id: string;
  kind: 'order' | 'batch';
  crypto: string;
  symbol: string;
  exchange_order_id: string;
  quote_asked: string;
  house_top_up: string;
  fill: {
    quote_spent: string;
    quantity: string;
    average_price: string;
    commission: string;
    commission_asset: string;
  };
  orders: PurchaseOrderView[];
  created_at: string;
}

/** Every recorded exchange purchase, newest first, each with its orders. */
export async function listPurchases(
  em: EntityManager,
  limit: number,
  cursor?: number,
): Promise<Page<PurchaseView>> {
  const db = sqlOf(em);
  const rows = await db
    .selectFrom('exchange_purchases as p')
    .innerJoin('crypto_currencies as c', 'c.id', 'p.crypto_id')
    .leftJoin('batches as b', 'b.id', 'p.batch_id')
    .select([
      'p.seq',
      'p.client_order_id',
      'p.order_id',
      'p.batch_id',
      'c.name as crypto',
      'p.symbol',
      'p.exchange_order_id',
      'p.quote_asked',
      'b.house_top_up',
      'p.quote_spent',
      'p.quantity',
      'p.average_price',
      'p.commission',
      'p.commission_asset',
      'p.created_at',
    ])
    .$if(cursor !== undefined, (q) => q.where('p.seq', '<', cursor!))
    .orderBy('p.seq', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const orderIds = page.flatMap((r) => (r.order_id === null ? [] : [Number(r.order_id)]));
  const batchIds = page.flatMap((r) => (r.batch_id === null ? [] : [r.batch_id]));
  const orders =
    page.length === 0
      ? []
      : await db
          .selectFrom('orders')
          .select(['id', 'user_id', 'amount', 'total_price', 'state', 'batch_id'])
          .where((q) =>
            q.or([
              q('id', '=', sql<number>`any(${pgIdArray(orderIds)}::bigint[])`),
              q('batch_id', '=', sql<string>`any(${pgTextArray(batchIds)}::text[])`),
            ]),
          )
          .orderBy('id')
          .execute();
  const ordersOf = (row: (typeof rows)[number]): PurchaseOrderView[] =>
    orders
      .filter((o) =>
        row.batch_id === null ? Number(o.id) === Number(row.order_id) : o.batch_id === row.batch_id,
      )
      .map((o) => ({
        // bigint ids arrive as text
        id: Number(o.id),
        user_id: o.user_id,
        amount: formatQuantity(readQuantity(o.amount)),
        total_price: formatUsd(readUsd(o.total_price)),
        state: o.state,
      }));
  const view = (r: (typeof rows)[number]): PurchaseView => ({
    id: Number(r.seq),
    client_order_id: r.client_order_id,
    kind: r.batch_id === null ? 'order' : 'batch',
    crypto: r.crypto,
    symbol: r.symbol,
    exchange_order_id: r.exchange_order_id,
    quote_asked: formatUsd(readUsd(r.quote_asked)),
    house_top_up: formatUsd(r.house_top_up === null ? 0n : readUsd(r.house_top_up)),
    fill: {
      quote_spent: formatQuantity(readQuantity(r.quote_spent)),
      quantity: formatQuantity(readQuantity(r.quantity)),
      average_price: formatQuantity(readQuantity(r.average_price)),
      commission: formatQuantity(readQuantity(r.commission)),
      commission_asset: r.commission_asset,
    },
    orders: ordersOf(r),
    created_at: isoTime(r.created_at),
  });
  return toPage(rows, limit, view, (item) => item.id);
}
