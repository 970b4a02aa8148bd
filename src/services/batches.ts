import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { formatQuantity, formatUsd, readQuantity, readUsd, sum, type Cents } from '../domain/money.js';
import { DataError } from '../domain/errors.js';
import { poolThreshold } from '../domain/orders.js';
import { parseFill } from '../domain/house.js';
import { purchaseRecorded, recordPurchase } from './purchases.js';
import { refundUnpublished } from './orders.js';
import { publishOrderChanges } from './order-events.js';
import { pgIdArray } from '../db/values.js';
import type { Fill } from '../exchange/exchange.js';
import { secondsSinceCreated, type SettledOrder } from './settled.js';

export interface OpenedBatch {
  batchId: string;
  orderIds: number[];
  ordersTotal: string;
  houseTopUp: string;
  notional: string;
  /**
   * Orders asked for that this batch does not hold but that still wait for one (aggregated, in no
   * batch): only when the batch was already opened, by an earlier try, with fewer orders. The pool
   * keeps them for its next batch. (Absent from results recorded before it existed.)
   */
  waiting?: number[];
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

/** Of `orderIds`, the orders of `crypto` that still wait for a batch (aggregated, in none), by id. */
const waitingOrders = (em: EntityManager, crypto: string, orderIds: number[]) =>
  sqlOf(em)
    .selectFrom('orders as o')
    .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
    .where('o.id', '=', sql<number>`any(${pgIdArray(orderIds)}::bigint[])`)
    .where('c.name', '=', crypto)
    .where('o.state', '=', 'aggregated')
    .where('o.batch_id', 'is', null)
    .orderBy('o.id');

/**
 * Of `orderIds`, those not in `held` that still wait for a batch. A pool whose workflow task ran
 * openBatch and was then failed (a worker killed, or the server failing a task that signals had
 * queued behind) opens the same batch again, now with the orders that arrived meanwhile too.
 */
async function stillWaiting(em: EntityManager, crypto: string, orderIds: number[], held: number[]) {
  const inBatch = new Set(held);
  const others = orderIds.filter((id) => !inBatch.has(id));
  if (others.length === 0) return [];
  const rows = await waitingOrders(em, crypto, others).select('o.id').execute();
  return rows.map((r) => Number(r.id));
}

/**
 * Claims the given pooled orders for a new batch, in one transaction: only orders still
 * `aggregated` and in no batch are taken, so no order is ever in two batches. When they sum to
 * less than `minimum` (or the crypto's market minimum, if higher) the house tops the batch up to
 * it. Idempotent by batch id.
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
    if (existing) {
      const held = await batchOrders(tx, batchId);
      return { ...toOpened(existing, held), waiting: await stillWaiting(tx, crypto, orderIds, held) };
    }
    // Locked in id order, so two claims over the same orders never deadlock.
    const claimed = await waitingOrders(tx, crypto, orderIds)
      .select(['o.id', 'o.total_price', 'o.crypto_id', 'c.min_notional'])
      .forUpdate(['o'])
      .execute();
    if (claimed.length === 0)
      return {
        batchId,
        orderIds: [],
        ordersTotal: '0.00',
        houseTopUp: '0.00',
        notional: '0.00',
        waiting: [],
      };
    const ordersTotal = claimed.reduce((acc, o) => acc + readUsd(o.total_price), 0n);
    const floor = poolThreshold(minimum, readUsd(claimed[0]!.min_notional));
    const houseTopUp = ordersTotal < floor ? floor - ordersTotal : 0n;
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
    // Their owners see the batch id appear on them.
    await publishOrderChanges(tx, ids);
    return { ...toOpened(row, ids), waiting: [] };
  });
}

/**
 * Completes every order of the batch, the batch, its exchange purchase and the house entries, in
 * one transaction. Idempotent: a retry finds the purchase recorded and writes nothing. A malformed
 * fill, or one for a batch that does not exist or has failed (its orders refunded), is a DataError
 * and writes nothing. Returns the orders this call completed (none on a retry).
 */
export async function completeBatch(em: EntityManager, batchId: string, fill: Fill): Promise<SettledOrder[]> {
  return em.transactional(async (tx) => {
    const db = sqlOf(tx);
    const batch = await db
      .selectFrom('batches as b')
      .innerJoin('crypto_currencies as c', 'c.id', 'b.crypto_id')
      .select(['b.state', 'b.house_top_up', 'b.notional', 'b.crypto_id', 'c.name as crypto'])
      .select(purchaseRecorded(batchId).as('recorded'))
      .where('b.id', '=', batchId)
      .forUpdate(['b'])
      .executeTakeFirst();
    if (!batch) throw new DataError(`a fill for batch ${batchId}, which does not exist`);
    const parsed = parseFill(fill, { clientOrderId: batchId, crypto: batch.crypto });
    if (batch.state === 'completed' || batch.recorded) return [];
    if (batch.state !== 'open') throw new DataError(`a fill for batch ${batchId}, which is ${batch.state}`);
    await db
      .updateTable('batches')
      .set({
        state: 'completed',
        exchange_order_id: parsed.exchangeOrderId,
        filled_quantity: formatQuantity(parsed.quantity),
        updated_at: sql`now()`,
      })
      .where('id', '=', batchId)
      .execute();
    const orders = await db
      .updateTable('orders')
      .set({ state: 'completed', exchange_order_id: parsed.exchangeOrderId, updated_at: sql`now()` })
      .where('batch_id', '=', batchId)
      .where('state', '=', 'aggregated')
      .returning(['id', 'total_price', 'amount', secondsSinceCreated.as('seconds')])
      .execute();
    await recordPurchase(tx, { batchId }, batch.crypto_id, {
      fill: parsed,
      ordersTotal: sum(orders.map((o) => readUsd(o.total_price))),
      houseTopUp: readUsd(batch.house_top_up),
      quoteAsked: readUsd(batch.notional),
      ordersAmount: sum(orders.map((o) => readQuantity(o.amount))),
    });
    await publishOrderChanges(
      tx,
      orders.map((o) => Number(o.id)),
    );
    return orders.map((o) => ({ state: 'completed' as const, route: 'pooled' as const, seconds: o.seconds }));
  });
}

/**
 * The exchange refused the batch: every order in it is failed and refunded, with the batch,
 * atomically. Returns the orders this call refunded, and whether it failed the batch (not on a retry).
 */
export async function failBatch(
  em: EntityManager,
  batchId: string,
  reason: string,
): Promise<{ batchFailed: boolean; refunded: SettledOrder[] }> {
  return em.transactional(async (tx) => {
    const failed = await sqlOf(tx)
      .updateTable('batches')
      .set({ state: 'failed', updated_at: sql`now()` })
      .where('id', '=', batchId)
      .where('state', '=', 'open')
      .executeTakeFirst();
    const refunded: SettledOrder[] = [];
    const changed: number[] = [];
    for (const orderId of await batchOrders(tx, batchId)) {
      const settled = await refundUnpublished(tx, orderId, reason);
      if (!settled) continue;
      refunded.push(settled);
      changed.push(orderId);
    }
    // Once, after every wallet lock: the event locks are the last any transaction takes.
    await publishOrderChanges(tx, changed);
    return { batchFailed: failed.numUpdatedRows > 0n, refunded };
  });
}
