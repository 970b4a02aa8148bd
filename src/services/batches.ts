import type { EntityManager } from '@mikro-orm/postgresql';
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

interface BatchRow {
  id: string;
  orders_total: string;
  house_top_up: string;
  notional: string;
}

async function batchOrders(em: EntityManager, batchId: string): Promise<number[]> {
  const rows = await em.execute<{ id: string }[]>('select id from orders where batch_id = ? order by id', [
    batchId,
  ]);
  return rows.map((r) => Number(r.id));
}

const toOpened = (row: BatchRow, orderIds: number[]): OpenedBatch => ({
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
    const [existing] = await tx.execute<BatchRow[]>(
      'select id, orders_total, house_top_up, notional from batches where id = ?',
      [batchId],
    );
    if (existing) return toOpened(existing, await batchOrders(tx, batchId));
    const claimed = await tx.execute<{ id: string; total_price: string }[]>(
      `select o.id, o.total_price from orders o join crypto_currencies c on c.id = o.crypto_id
        where o.id = any(?::bigint[]) and c.name = ? and o.state = 'aggregated' and o.batch_id is null
        order by o.id for update of o`,
      [pgIdArray(orderIds), crypto],
    );
    if (claimed.length === 0)
      return { batchId, orderIds: [], ordersTotal: '0.00', houseTopUp: '0.00', notional: '0.00' };
    const ordersTotal = claimed.reduce((acc, o) => acc + readUsd(o.total_price), 0n);
    const houseTopUp = ordersTotal < minimum ? minimum - ordersTotal : 0n;
    const [row] = await tx.execute<BatchRow[]>(
      `insert into batches (id, crypto_id, orders_total, house_top_up, notional, order_count)
       select ?, id, ?, ?, ?, ? from crypto_currencies where name = ?
       returning id, orders_total, house_top_up, notional`,
      [
        batchId,
        formatUsd(ordersTotal),
        formatUsd(houseTopUp),
        formatUsd(ordersTotal + houseTopUp),
        claimed.length,
        crypto,
      ],
    );
    const ids = claimed.map((o) => Number(o.id));
    await tx.execute('update orders set batch_id = ?, updated_at = now() where id = any(?::bigint[])', [
      batchId,
      pgIdArray(ids),
    ]);
    return toOpened(row!, ids);
  });
}

/** Records the exchange fill and completes every order of the batch, in one transaction. */
export async function completeBatch(em: EntityManager, batchId: string, fill: Fill): Promise<void> {
  await em.transactional(async (tx) => {
    await tx.execute(
      `update batches set state = 'completed', exchange_order_id = ?, filled_quantity = ?, updated_at = now()
        where id = ? and state = 'open'`,
      [fill.exchangeOrderId, fill.quantity, batchId],
    );
    await tx.execute(
      `update orders set state = 'completed', exchange_order_id = ?, updated_at = now()
        where batch_id = ? and state = 'aggregated'`,
      [fill.exchangeOrderId, batchId],
    );
  });
}

/** The exchange refused the batch: every order in it is failed and refunded, with the batch, atomically. */
export async function failBatch(em: EntityManager, batchId: string, reason: string): Promise<void> {
  await em.transactional(async (tx) => {
    await tx.execute(
      `update batches set state = 'failed', updated_at = now() where id = ? and state = 'open'`,
      [batchId],
    );
    for (const orderId of await batchOrders(tx, batchId)) await refundOrder(tx, orderId, reason);
  });
}
