import type { Cents } from './money.js';
import type { FillText } from './house.js';

/** The states an order row can be in (see README, Order states). */
export const ORDER_STATES = ['pending', 'aggregated', 'held', 'completed', 'failed', 'cancelled'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/**
 * What an order is placed with: the order id is allocated before anything else happens. Fields
 * added later are optional, since running workflows hold inputs made before them.
 */
export interface OrderInput {
  orderId: number;
  userId: number;
  crypto: string;
  /** Quantity, 8-decimal string. */
  amount: string;
  /**
   * The price (USD, 2-decimal string) the debit must charge instead of the crypto's current one:
   * the price a USD total was divided by, or a quote's. Absent: the price at the debit.
   */
  price?: string;
  /** The USD total the buyer asked to spend (2-decimal string); the debit never charges more. */
  total?: string;
  /** The quote this order uses; the debit marks it used in its transaction, or refuses the order. */
  quoteId?: string;
  /**
   * How the API learns the debit's answer. `events`: from the order's events in Postgres, with no
   * `placed` update, so a refused order ends at once. Absent (orders placed by earlier versions):
   * through the `placed` update, which a refused order stays open a few seconds for.
   */
  placementVia?: 'events';
}

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

/** Where a debited order goes: bought alone or through its crypto's pool. */
export type PurchaseRoute = 'exchange' | 'pool';

/**
 * Where a placed order goes next: `review` when the fraud rules hold it, `rejected` when they
 * refuse it (no money moved), otherwise its purchase route.
 */
export type PlacementRoute = PurchaseRoute | 'review' | 'rejected';

/** Result of the debit: the order, and what happens to it next. */
export interface Placement {
  order: OrderView;
  route: PlacementRoute;
  /** Which fraud rule held or rejected it, and why. */
  rule?: string;
  reason?: string;
}

/**
 * The exchange's minimum decides the route: a total of at least the threshold is bought alone,
 * a smaller one waits in its crypto's pool (and a pool that reaches it is bought).
 */
export const routeFor = (total: Cents, threshold: Cents): PurchaseRoute =>
  total >= threshold ? 'exchange' : 'pool';

/**
 * The threshold of one crypto: the configured one, but never below its market's minimum order
 * value, which an order bought alone (or a batch) must reach.
 */
export const poolThreshold = (configured: Cents, minNotional: Cents): Cents =>
  minNotional > configured ? minNotional : configured;

/** The state an order starts in on its route: held for review, failed when refused, else its purchase's. */
const STATE_ON: Record<PlacementRoute, OrderState> = {
  exchange: 'pending',
  pool: 'aggregated',
  review: 'held',
  rejected: 'failed',
};
export const stateOn = (route: PlacementRoute): OrderState => STATE_ON[route];

/** The client order id of an order bought alone (a batch's is its batch id), so a retry never buys twice. */
export const orderClientId = (orderId: number) => `order-${orderId}`;

/** Orders still waiting, which their owner or an admin may cancel (refunded in full). */
export const CANCELLABLE_STATES = ['aggregated', 'held'] as const satisfies readonly OrderState[];

/** Who cancels an order: its owner, or an admin (named, for the audit log). */
export type Canceller = { by: 'owner' } | { by: 'admin'; adminId: number };

/** How a pooled order ended: bought or failed with its batch, or cancelled (no batch). */
export interface Settlement {
  state: 'completed' | 'failed' | 'cancelled';
  batchId?: string;
  reason?: string;
}

/** The settlement an order's view shows, if it is settled. */
export function settlementOf(order: Pick<OrderView, 'state' | 'batch_id' | 'failure_reason'>) {
  const { state } = order;
  if (state !== 'completed' && state !== 'failed' && state !== 'cancelled') return undefined;
  const settlement: Settlement = { state };
  if (order.batch_id !== null) settlement.batchId = order.batch_id;
  if (order.failure_reason !== null) settlement.reason = order.failure_reason;
  return settlement;
}

/**
 * What the debit's local activity went on to do after a debit that committed, when it could: an order
 * bought alone was bought and completed (or refused by the exchange, or bought and not yet recorded),
 * a pooled one joined its pool (and, when its batch was bought while the activity watched, was
 * settled). Absent when it did nothing more: the workflow then takes each step.
 */
export type AfterDebit =
  | { completed: true }
  | { rejected: string }
  | { fill: FillText }
  | { enqueued: true }
  | { settled: Settlement };
