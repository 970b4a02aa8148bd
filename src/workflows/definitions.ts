import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** What the order workflow is given: the order id is allocated before the workflow starts. */
export interface OrderInput {
  orderId: number;
  userId: number;
  crypto: string;
  /** Quantity, 8-decimal string. */
  amount: string;
}

export type OrderState = 'pending' | 'aggregated' | 'held' | 'completed' | 'failed';

/** The order as the API shows it. Money as decimal strings. */
export interface OrderView {
  id: number;
  crypto: string;
  amount: string;
  price: string;
  total_price: string;
  state: OrderState;
  batch_id: string | null;
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** Result of the debit: the order, and whether it is bought alone or through the crypto's pool. */
export interface Placement {
  order: OrderView;
  /** `review`: held by the fraud rules; `rejected`: refused by them, no money moved. */
  route: 'exchange' | 'pool' | 'review' | 'rejected';
  /** Which fraud rule held or rejected it, and why. */
  rule?: string;
  reason?: string;
}

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

export interface Settlement {
  state: 'completed' | 'failed';
  batchId: string;
  reason?: string;
}

export interface PooledOrder {
  orderId: number;
  /** USD, 2-decimal string. */
  total: string;
  /** Quantity, 8-decimal string. */
  amount: string;
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
export const placeOrderUpdate = defineUpdate<OrderView>('placeOrder');
export const orderStatusQuery = defineQuery<OrderStatus>('status');
/** An admin's decision on a held order; answers with the order once the decision is applied. */
export const reviewOrderUpdate = defineUpdate<OrderView, [Review]>('review');
/** Sent by the pool when the batch holding the order is settled. */
export const orderSettledSignal = defineSignal<[Settlement]>('settled');

export const addToPoolSignal = defineSignal<[PooledOrder]>('addOrder');
export const poolQuery = defineQuery<PoolView>('pool');

export const orderWorkflowId = (orderId: number) => `order-${orderId}`;
/** The client order id of an order bought alone (a batch's is its batch id). */
export const orderClientId = (orderId: number) => `order-${orderId}`;
export const poolWorkflowId = (crypto: string) => `pool-${crypto}`;
export const PRICE_SCHEDULE_ID = 'refresh-prices';
