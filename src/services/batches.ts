import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { refundOrder } from './orders.js';
import { pgIdArray } from '../db/values.js';
import type { Fill } from '../exchange/exchange.js';

export interface OpenedBatch {
  batchId: string;
  orderIds: number[];
  ordersTotal: string;
  houseTopUp: string;
  notional: string;
}

const BATCH_COLUMNS = ['id', 'orders_total', 'house_top_up', 'notional'] as const;

async function batchOrders(em: EntityManager, batchId: string): Promise<number[]> {
  const rows = await sqlOf(em)
    .selectFrom('orders')
    .select('id')
    .where('batch_id', '=', batchId)
    .orderBy('id')
    .execute();
  // bigint ids arrive as text
  return rows.map((r) => Number(r.id));
}

const toOpened = (
  row: { id: string; orders_total: string; house_top_up: string; notional: string },
  orderIds: number[],
): OpenedBatch => ({
  batchId: row.id,
  orderIds,
  ordersTotal: formatUsd(readUsd(row.orders_total)),
  houseTopUp: formatUsd(readUsd(row.house_top_up)),
  notional: formatUsd(readUsd(row.notional)),
});

/**
 * Claims the given pooled orders for a new batch, in one transaction: only orders still
 * `aggregated` and in no batch are taken, so no order is ever in two batches. When they sum to
 * less than the exchange minimum the house tops the batch up to it. Idempotent by batch id.
 */
export async function openBatch(
  em: EntityManager,
  batchId: string,
  crypto: string,
  orderIds: number[],
  minimum: Cents,
): Promise<OpenedBatch> {
  return em.transactional(async (tx) => {
    const db = sqlOf(tx);
    const existing = await db
      .selectFrom('batches')
      .select(BATCH_COLUMNS)
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (existing) return toOpened(existing, await batchOrders(tx, batchId));
    // Locked in id order, so two claims over the same orders never deadlock.
    const claimed = await db
      .selectFrom('orders as o')
      .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
      .select(['o.id', 'o.total_price', 'o.crypto_id'])
      .where('o.id', '=', sql<number>`any(${pgIdArray(orderIds)}::bigint[])`)
      .where('c.name', '=', crypto)
      .where('o.state', '=', 'aggregated')
      .where('o.batch_id', 'is', null)
      .orderBy('o.id')
      .forUpdate(['o'])
      .execute();
    if (claimed.length === 0)
      return { batchId, orderIds: [], ordersTotal: '0.00', houseTopUp: '0.00', notional: '0.00' };
    const ordersTotal = claimed.reduce((acc, o) => acc + readUsd(o.total_price), 0n);
    const houseTopUp = ordersTotal < minimum ? minimum - ordersTotal : 0n;
    const row = await db
      .insertInto('batches')
      .values({
        id: batchId,
        crypto_id: claimed[0]!.crypto_id,
        orders_total: formatUsd(ordersTotal),
        house_top_up: formatUsd(houseTopUp),
        notional: formatUsd(ordersTotal + houseTopUp),
        order_count: claimed.length,
      })
      .returning(BATCH_COLUMNS)
      .executeTakeFirstOrThrow();
    const ids = claimed.map((o) => Number(o.id));
    await db
      .updateTable('orders')
      .set({ batch_id: batchId, updated_at: sql`now()` })
      .where('id', '=', sql<number>`any(${pgIdArray(ids)}::bigint[])`)
      .execute();
    return toOpened(row, ids);
  });
}

/** Records the exchange fill and completes every order of the batch, in one transaction. */
export async function completeBatch(em: EntityManager, batchId: string, fill: Fill): Promise<void> {
  await em.transactional(async (tx) => {
    const db = sqlOf(tx);
    await db
      .updateTable('batches')
      .set({
        state: 'completed',
        exchange_order_id: fill.exchangeOrderId,
        filled_quantity: fill.quantity,
        updated_at: sql`now()`,
      })
      .where('id', '=', batchId)
      .where('state', '=', 'open')
      .execute();
    await db
      .updateTable('orders')
      .set({ state: 'completed', exchange_order_id: fill.exchangeOrderId, updated_at: sql`now()` })
      .where('batch_id', '=', batchId)
      .where('state', '=', 'aggregated')
      .execute();
  });
}

/** The exchange refused the batch: every order in it is failed and refunded, with the batch, atomically. */
export async function failBatch(em: EntityManager, batchId: string, reason: string): Promise<void> {
  await em.transactional(async (tx) => {
    await sqlOf(tx)
      .updateTable('batches')
      .set({ state: 'failed', updated_at: sql`now()` })
      .where('id', '=', batchId)
      .where('state', '=', 'open')
      .execute();
    for (const orderId of await batchOrders(tx, batchId)) await refundOrder(tx, orderId, reason);
  });
}
