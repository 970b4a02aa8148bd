import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Canceller, OrderState, OrderView, Settlement } from '../domain/orders.js';
import type { TraceLink } from './tracing.js';

// Signals, queries, updates and workflow ids: the Temporal side of the order contract, whose
// types live in src/domain/orders.ts.

export interface Review {
  decision: 'approve' | 'reject';
  adminId: number;
}

export interface OrderStatus {
  orderId: number;
  state: OrderState | 'placing' | 'rejected';
  batchId?: string;
  reason?: string;
}

export type { Settlement } from '../domain/orders.js';

/**
 * A settled batch: the orders whose workflows wait for the pool's signal. (The activities of pools
 * started before it existed answered nothing: those pools signal every order of the batch.)
 */
export interface BatchSettled {
  signal: number[];
}

/** Cancels a pooled order (sent to its pool) or a held one (sent to its order workflow). */
export type CancelRequest = { orderId: number } & Canceller;

export interface PooledOrder {
  orderId: number;
  /** USD, 2-decimal string. */
  total: string;
  /** Quantity, 8-decimal string. */
  amount: string;
  /**
   * The crypto's threshold when the order was enqueued (USD string): the pool follows the latest,
   * since the market minimum can change while it runs. Absent from signals sent before it existed.
   */
  threshold?: string;
}

/** What an order's pool is told of it when it joins (the pool adds the crypto's threshold). */
export const pooledOrderOf = (order: Pick<OrderView, 'id' | 'total_price' | 'amount'>): PooledOrder => ({
  orderId: order.id,
  total: order.total_price,
  amount: order.amount,
});

/** An order as it joins its pool in a group: `trace`, the span that sent it, when the worker traces. */
export type PoolArrival = Omit<PooledOrder, 'threshold'> & { trace?: TraceLink };

/** Orders joining a pool in one signal (src/activities/pool-feed.ts), with the crypto's threshold now. */
export interface PoolArrivals {
  threshold: string;
  orders: PoolArrival[];
}

/** What the pool query answers: absolute times (ISO strings), since a query cannot read the clock. */
export interface PoolView {
  crypto: string;
  total: string;
  threshold: string;
  orders: (PooledOrder & { added_at: string })[];
  batches: number;
  /** When the pool is bought even if it stays under the threshold; null while it is empty. */
  flush_at: string | null;
}

/** Answers POST orders/ once the debit has committed (or been refused). */
export const placedUpdate = defineUpdate<OrderView>('placed');
export const orderStatusQuery = defineQuery<OrderStatus>('status');
/** An admin's decision on a held order; answers with the order once the decision is applied. */
export const reviewOrderUpdate = defineUpdate<OrderView, [Review]>('review');
/** Sent by the pool when the batch holding the order is settled. */
export const orderSettledSignal = defineSignal<[Settlement]>('settled');

/** The failure type of a pool's refusal to cancel an order it does not (or does not yet) hold. */
export const NOT_IN_POOL = 'order_not_in_pool';
/**
 * Cancels a waiting order: on its pool for an `aggregated` order, on its order workflow for a
 * `held` one. Answers with the order, cancelled and refunded; the validator refuses an order the
 * workflow no longer holds for cancelling.
 */
export const cancelOrderUpdate = defineUpdate<OrderView, [CancelRequest]>('cancel');

/** One order joining its pool: how orders were sent before they joined in groups. */
export const addToPoolSignal = defineSignal<[PooledOrder]>('addOrder');
export const addOrdersToPoolSignal = defineSignal<[PoolArrivals]>('addOrders');
export const poolQuery = defineQuery<PoolView>('pool');

export const orderWorkflowId = (orderId: number) => `order-${orderId}`;
/** The order an `order-<id>` workflow is for; undefined for any other workflow id. */
export const orderIdOf = (workflowId: string): number | undefined => {
  const match = /^order-([1-9]\d{0,15})$/.exec(workflowId);
  const orderId = Number(match?.[1]);
  return Number.isSafeInteger(orderId) ? orderId : undefined;
};
export const poolWorkflowId = (crypto: string) => `pool-${crypto}`;
/** Pools run on a task queue of their own, beside the orders' (src/worker/worker.ts). */
export const poolTaskQueue = (taskQueue: string) => `${taskQueue}-pools`;
export const PRICE_SCHEDULE_ID = 'refresh-prices';
