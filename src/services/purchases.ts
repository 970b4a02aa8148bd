import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';
import { formatQuantity, formatUsd } from '../domain/money.js';
import { houseEntries, type ParsedFill, type PurchaseFigures } from '../domain/house.js';

/** Whether a purchase is already recorded under this client order id (a retried completion). */
export async function purchaseRecorded(tx: EntityManager, clientOrderId: string): Promise<boolean> {
  const row = await sqlOf(tx)
    .selectFrom('exchange_purchases')
    .select('client_order_id')
    .where('client_order_id', '=', clientOrderId)
    .executeTakeFirst();
  return row !== undefined;
}

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
  const db = sqlOf(tx);
  await db
    .insertInto('exchange_purchases')
    .values({
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
    })
    .execute();
  const entries = houseEntries(figures);
  if (entries.length === 0) return;
  await db
    .insertInto('house_entries')
    .values(
      entries.map((e) => ({
        purchase_id: fill.clientOrderId,
        kind: e.kind,
        asset: e.asset,
        amount: formatQuantity(e.amount),
        quantity: e.quantity === null ? null : formatQuantity(e.quantity),
      })),
    )
    .execute();
}
