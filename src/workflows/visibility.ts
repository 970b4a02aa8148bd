import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type SearchAttributePair,
  type BaseWorkflowOptions,
} from '@temporalio/common';
import { formatUsd, readUsd, shortDecimal, type Cents } from '../domain/money.js';
import type { OrderInput, OrderView } from '../domain/orders.js';
import type { OrderStatus } from './definitions.js';

// What operators see of an order or a pool in `temporal workflow list` and the Web UI: the
// custom search attributes to filter orders by, the summary a workflow starts with, and the
// details it keeps current. The attributes must be registered in the namespace before any order
// starts (the dev server registers SEARCH_ATTRIBUTES; see README, Operations).

export const ORDER_STATE = defineSearchAttributeKey('OrderState', SearchAttributeType.KEYWORD);
export const CRYPTO = defineSearchAttributeKey('Crypto', SearchAttributeType.KEYWORD);
export const USER_ID = defineSearchAttributeKey('UserId', SearchAttributeType.INT);
export const ORDER_TOTAL_CENTS = defineSearchAttributeKey('OrderTotalCents', SearchAttributeType.INT);

/** Every custom search attribute the workflows set, for registering them with a server. */
export const SEARCH_ATTRIBUTES = [ORDER_STATE, CRYPTO, USER_ID, ORDER_TOTAL_CENTS] as const;

/** The state an order's workflow shows: an order row's, or `placing` / `rejected` around the debit. */
export type ShownState = OrderStatus['state'];

/** "Buy 3 ABAN — user 42": the price, and so the total, is only read by the debit. */
export const orderSummary = (input: OrderInput): string =>
  `Buy ${shortDecimal(input.amount)} ${input.crypto} — user ${input.userId}`;

type Priced = Pick<OrderView, 'amount' | 'price' | 'total_price'>;

/**
 * The order's search attributes; the total once the debit has priced the order (an Int is exact
 * here: a total in cents stays far below 2⁵³).
 */
export function orderSearchAttributes(
  input: OrderInput,
  state: ShownState,
  order?: Pick<Priced, 'total_price'>,
): SearchAttributePair[] {
  return [
    { key: ORDER_STATE, value: state },
    { key: CRYPTO, value: input.crypto },
    { key: USER_ID, value: input.userId },
    ...(order ? [{ key: ORDER_TOTAL_CENTS, value: Number(readUsd(order.total_price)) }] : []),
  ];
}

/** What starting an order's workflow adds to its id, task queue and input: how the Web UI lists it. */
export function orderStartOptions(
  input: OrderInput,
): Required<Pick<BaseWorkflowOptions, 'staticSummary' | 'typedSearchAttributes'>> {
  return {
    staticSummary: orderSummary(input),
    typedSearchAttributes: orderSearchAttributes(input, 'placing'),
  };
}

/** The order's current details (a Markdown list in the Web UI): state, total once priced, reason, batch. */
export function orderDetails(status: OrderStatus, order?: Priced): string {
  return [
    `State: ${status.state}`,
    order && `Total: $${order.total_price} (${shortDecimal(order.amount)} at $${order.price})`,
    status.reason && `Reason: ${status.reason}`,
    status.batchId && `Batch: ${status.batchId}`,
  ]
    .filter(Boolean)
    .map((line) => `- ${line}`)
    .join('\n');
}

/** A pool's current details: what it holds against its threshold, and when it is bought at the latest. */
export function poolDetails(pool: {
  total: Cents;
  threshold: Cents;
  orders: number;
  batches: number;
  flushAt: number | undefined;
}): string {
  const flush =
    pool.flushAt === undefined ? 'none (empty)' : `${new Date(pool.flushAt).toISOString()} at the latest`;
  return [
    `- Total: $${formatUsd(pool.total)} of $${formatUsd(pool.threshold)} in ${pool.orders} order(s)`,
    `- Next flush: ${flush}`,
    `- Batches bought: ${pool.batches}`,
  ].join('\n');
}
