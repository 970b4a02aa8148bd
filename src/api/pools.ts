import type { PoolView } from '../workflows/definitions.js';

/** A pool as the admin API shows it: the workflow's absolute times, with ages taken at request time. */
export interface PoolAges {
  crypto: string;
  total: string;
  threshold: string;
  orders: { order_id: number; total: string; amount: string; added_at: string; waiting_ms: number }[];
  batches: number;
  flush_at: string | null;
  flush_in_ms: number | null;
}

export function poolAges(view: PoolView, now = Date.now()): PoolAges {
  return {
    crypto: view.crypto,
    total: view.total,
    threshold: view.threshold,
    orders: view.orders.map((o) => ({
      order_id: o.orderId,
      total: o.total,
      amount: o.amount,
      added_at: o.added_at,
      waiting_ms: Math.max(0, now - Date.parse(o.added_at)),
    })),
    batches: view.batches,
    flush_at: view.flush_at,
    flush_in_ms: view.flush_at === null ? null : Math.max(0, Date.parse(view.flush_at) - now),
  };
}

export const emptyPool = (crypto: string, threshold: string): PoolAges => ({
  crypto,
  total: '0.00',
  threshold,
  orders: [],
  batches: 0,
  flush_at: null,
  flush_in_ms: null,
});
