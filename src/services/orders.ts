import type { EntityManager } from '@mikro-orm/postgresql';
import { formatQuantity, formatUsd, readQuantity, readUsd, type Cents } from '../domain/money.js';
import {
  DataError,
  DomainError,
  accountNotFound,
  badRequest,
  notFound,
  unprocessable,
} from '../domain/errors.js';
import { parseFill } from '../domain/house.js';
import type { Fill } from '../exchange/exchange.js';
import { purchaseRecorded, recordPurchase } from './purchases.js';
import { recordRefusal } from './placements.js';
import { isoTime } from '../db/values.js';
import { sqlOf } from '../db/kysely.js';
import { isUniqueViolation } from '../db/violations.js';
import { sql } from 'kysely';
import { creditWallet, debitWallet } from './wallet.js';
import { claimQuote } from './quote-claims.js';
import { priceOrder } from '../domain/pricing.js';
import { assessOrder } from './fraud.js';
import type { FraudConfig } from '../domain/fraud.js';
import {
  orderClientId,
  poolThreshold,
  routeFor,
  stateOn,
  type OrderInput,
  type OrderView,
  type Placement,
  type PlacementRoute,
} from '../domain/orders.js';
import { toPage, type Page } from './pagination.js';
import { routeOfState, secondsSinceCreated, type SettledOrder } from './settled.js';
import { publishOrderChanges } from './order-events.js';

/**
 * The orders with the columns the API shows and the crypto's name: the one column list every order
 * query starts from (narrow it with `where`, add columns with `select`).
 */
export const selectOrders = (em: EntityManager) =>
  sqlOf(em)
    .selectFrom('orders as o')
    .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
    .select([
      'o.id',
      'c.name as crypto',
      'o.amount',
      'o.price',
      'o.total_price',
      'o.state',
      'o.batch_id',
      'o.failure_reason',
      'o.created_at',
      'o.updated_at',
    ]);

export type OrderRecord = Awaited<ReturnType<ReturnType<typeof selectOrders>['executeTakeFirstOrThrow']>>;

export const toOrderView = (row: OrderRecord): OrderView => ({
  // bigint ids arrive as text
  id: Number(row.id),
  crypto: row.crypto,
  amount: formatQuantity(readQuantity(row.amount)),
  price: formatUsd(readUsd(row.price)),
  total_price: formatUsd(readUsd(row.total_price)),
  state: row.state,
  batch_id: row.batch_id,
  failure_reason: row.failure_reason,
  created_at: isoTime(row.created_at),
  updated_at: isoTime(row.updated_at),
});

export async function findOrder(em: EntityManager, orderId: number): Promise<OrderView | undefined> {
  const row = await selectOrders(em).where('o.id', '=', orderId).executeTakeFirst();
  return row && toOrderView(row);
}

export async function getUserOrder(em: EntityManager, userId: number, orderId: number): Promise<OrderView> {
  const row = await selectOrders(em)
    .where('o.user_id', '=', userId)
    .where('o.id', '=', orderId)
    .executeTakeFirst();
  if (!row) throw notFound('order');
  return toOrderView(row);
}

export async function listUserOrders(
  em: EntityManager,
  userId: number,
  limit: number,
  cursor?: number,
): Promise<Page<OrderView>> {
  const rows = await selectOrders(em)
    .where('o.user_id', '=', userId)
    .$if(cursor !== undefined, (q) => q.where('o.id', '<', cursor!))
    .orderBy('o.id', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, toOrderView, (item) => item.id);
}

export async function activeCrypto(
  em: EntityManager,
  name: string,
): Promise<{ id: number; price: Cents; minNotional: Cents }> {
  const row = await sqlOf(em)
    .selectFrom('crypto_currencies')
    .select(['id', 'price', 'min_notional'])
    .where('name', '=', name)
    .where('active', '=', true)
    .executeTakeFirst();
  if (!row) throw badRequest('unknown_crypto', `"${name}" is not a cryptocurrency on sale`);
  return { id: row.id, price: readUsd(row.price), minNotional: readUsd(row.min_notional) };
}

export interface DebitOptions {
  /** Orders whose total is below this (or below the crypto's market minimum) are pooled. */
  threshold: Cents;
  /** Largest accepted order total. */
  maxTotal: Cents;
  fraud: FraudConfig;
  /**
   * Whether the caller watches a pooled order for its settlement itself (src/activities/settlements.ts):
   * then the pool does not signal its workflow unless handed the order (src/services/pool-signals.ts).
   */
  watched?: boolean;
}

/** Where a placed order goes next, from what the debit transaction recorded. */
function routeOf(
  row: Pick<OrderRecord, 'state' | 'total_price'> & { fraud_rule: string | null },
  threshold: Cents,
): PlacementRoute {
  if (row.state === 'held') return 'review';
  if (row.state === 'failed' && row.fraud_rule) return 'rejected';
  // The debit chose the route with the threshold of its time; the market minimum may have moved.
  if (row.state === 'pending') return 'exchange';
  if (row.state === 'aggregated') return 'pool';
  return routeFor(readUsd(row.total_price), threshold);
}

/**
 * Locks the buyer's account for the debit transaction, the user row against deletion and the
 * wallet against concurrent debits, and says whether the order is already there (a retry). A user
 * deleted after their token was issued is refused here, before anything is read that would not
 * make sense without them. One statement in the usual case; a second only to tell a refusal apart.
 */
async function lockBuyer(tx: EntityManager, userId: number, orderId: number): Promise<{ placed: boolean }> {
  const db = sqlOf(tx);
  const locked = await db
    .selectFrom('users as u')
    .innerJoin('wallets as w', 'w.user_id', 'u.id')
    .select((eb) =>
      eb.exists(eb.selectFrom('orders').select('orders.id').where('orders.id', '=', orderId)).as('placed'),
    )
    .where('u.id', '=', userId)
    .forKeyShare('u')
    .forUpdate('w')
    .executeTakeFirst();
  if (locked) return { placed: Boolean(locked.placed) };
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw accountNotFound();
  throw unprocessable('wallet_not_found', 'the account has no wallet');
}

/**
 * The debit: one transaction checks that the buyer and their wallet exist, reads the price, asks
 * the fraud rules, debits the wallet only if it holds the total, and inserts the order and its
 * ledger entry. A rejected order is recorded as failed without moving money; a held one is debited
 * and waits for review. Idempotent by order id: a retry after the commit finds the order and
 * changes nothing (`placedNow` says which call committed it).
 */
export async function debitOrder(
  em: EntityManager,
  input: OrderInput,
  options: DebitOptions,
): Promise<Placement & { placedNow: boolean }> {
  let placed: Placement | undefined;
  try {
    placed = await em.transactional(async (tx): Promise<Placement | undefined> => {
      // A retry finds the order placed before anything is checked again (a price or a rule that has
      // changed since must not refuse an order whose money already moved).
      if ((await lockBuyer(tx, input.userId, input.orderId)).placed) return undefined;
      const crypto = await activeCrypto(tx, input.crypto);
      // A USD total or a quote fixed the price when the order was accepted; otherwise it is today's.
      const price = input.price === undefined ? crypto.price : readUsd(input.price);
      const { total } = priceOrder({ amount: readQuantity(input.amount) }, price, options.maxTotal);
      if (input.total !== undefined && total > readUsd(input.total)) {
        throw new DataError(
          `order ${input.orderId} would cost ${formatUsd(total)}, over the ${input.total} asked`,
        );
      }
      const threshold = poolThreshold(options.threshold, crypto.minNotional);
      const decision = await assessOrder(tx, input.userId, total, options.fraud);
      const route: PlacementRoute =
        decision.action === 'reject'
          ? 'rejected'
          : decision.action === 'hold'
            ? 'review'
            : routeFor(total, threshold);
      const state = stateOn(route);
      // The order row goes first: a concurrent attempt for the same id waits on it, then finds it.
      await sqlOf(tx)
        .insertInto('orders')
        .values({
          id: input.orderId,
          user_id: input.userId,
          crypto_id: crypto.id,
          amount: input.amount,
          price: formatUsd(price),
          total_price: formatUsd(total),
          state,
          fraud_rule: decision.rule ?? null,
          fraud_reason: decision.reason ?? null,
          failure_reason: decision.action === 'reject' ? `rejected: ${decision.reason}` : null,
          pool_signals: !(options.watched && route === 'pool'),
        })
        .execute();
      // After the order row, which the quote then points at; a quote already used refuses the order.
      if (input.quoteId !== undefined) await claimQuote(tx, input.quoteId, input.userId, input.orderId);
      if (decision.action !== 'reject') {
        await debitWallet(tx, input.userId, total, { type: 'withdrawal', orderId: input.orderId });
      }
      // The order as it is published is the order as placed: no need to read it again.
      const [order] = await publishOrderChanges(tx, [input.orderId]);
      if (!order) throw new DataError(`order ${input.orderId} cannot be read back`);
      return { order, route, rule: decision.rule, reason: decision.reason };
    });
  } catch (error) {
    // A refusal moved no money: it is recorded so that the order id shows what happened to it.
    if (error instanceof DomainError) {
      await recordRefusal(em, input, error);
      throw error;
    }
    // A concurrent attempt committed first; fall through to read what it wrote.
    if (!isUniqueViolation(error)) throw error;
  }
  if (placed) return { ...placed, placedNow: true };
  return { ...(await findPlacement(em, input.orderId, options.threshold))!, placedNow: false };
}

/** An order's row once its debit ran; `rejectedBecause` when the fraud rules refused it (no money moved). */
export async function findPlacedOrder(
  em: EntityManager,
  orderId: number,
): Promise<{ order: OrderView; rejectedBecause?: string } | undefined> {
  const placement = await findPlacement(em, orderId, 0n);
  if (!placement) return undefined;
  if (placement.route !== 'rejected') return { order: placement.order };
  return { order: placement.order, rejectedBecause: placement.reason ?? 'refused by the fraud rules' };
}

async function findPlacement(
  em: EntityManager,
  orderId: number,
  threshold: Cents,
): Promise<Placement | undefined> {
  const row = await selectOrders(em)
    .select(['o.fraud_rule', 'o.fraud_reason', 'c.min_notional'])
    .where('o.id', '=', orderId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    order: toOrderView(row),
    route: routeOf(row, poolThreshold(threshold, readUsd(row.min_notional))),
    rule: row.fraud_rule ?? undefined,
    reason: row.fraud_reason ?? undefined,
  };
}

/**
 * Completes an order bought alone: the order, the exchange purchase and the house entries commit
 * together. Idempotent: a retry finds the purchase recorded (or the order already completed) and
 * writes nothing. A malformed fill, or one for an order that does not exist or can no longer be
 * completed (failed and refunded), is a DataError: nothing is written. Returns the order when this
 * call completed it.
 */
export async function completeOrder(
  em: EntityManager,
  orderId: number,
  fill: Fill,
): Promise<SettledOrder | undefined> {
  const clientOrderId = orderClientId(orderId);
  return em.transactional(async (tx) => {
    const order = await sqlOf(tx)
      .selectFrom('orders as o')
      .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
      .select(['o.state', 'o.total_price', 'o.amount', 'o.crypto_id', 'c.name as crypto'])
      .select(purchaseRecorded(clientOrderId).as('recorded'))
      .where('o.id', '=', orderId)
      .forUpdate(['o'])
      .executeTakeFirst();
    if (!order) throw new DataError(`a fill for order ${orderId}, which does not exist`);
    const parsed = parseFill(fill, { clientOrderId, crypto: order.crypto });
    if (order.state === 'completed' || order.recorded) return undefined;
    if (order.state !== 'pending' && order.state !== 'held')
      throw new DataError(`a fill for order ${orderId}, which is ${order.state}`);
    const total = readUsd(order.total_price);
    const { seconds } = await sqlOf(tx)
      .updateTable('orders')
      .set({ state: 'completed', exchange_order_id: parsed.exchangeOrderId, updated_at: sql`now()` })
      .where('id', '=', orderId)
      .returning(secondsSinceCreated.as('seconds'))
      .executeTakeFirstOrThrow();
    await recordPurchase(tx, { orderId }, order.crypto_id, {
      fill: parsed,
      ordersTotal: total,
      houseTopUp: 0n,
      quoteAsked: total,
      ordersAmount: readQuantity(order.amount),
    });
    await publishOrderChanges(tx, [orderId]);
    return { state: 'completed' as const, route: 'alone' as const, seconds };
  });
}

/**
 * Marks an unsettled order failed and refunds its total, in one transaction. Idempotent: an order
 * already failed or completed is left alone, and the ledger allows one refund per order. Returns
 * the order when this call refunded it.
 */
export async function refundOrder(
  em: EntityManager,
  orderId: number,
  reason: string,
): Promise<SettledOrder | undefined> {
  return em.transactional(async (tx) => {
    const settled = await refundUnpublished(tx, orderId, reason);
    if (settled) await publishOrderChanges(tx, [orderId]);
    return settled;
  });
}

/**
 * `refundOrder` inside the caller's transaction, which publishes the change itself (once, for all
 * the orders it changes).
 */
export async function refundUnpublished(
  em: EntityManager,
  orderId: number,
  reason: string,
): Promise<SettledOrder | undefined> {
  return em.transactional(async (tx) => {
    const unsettled = await sqlOf(tx)
      .selectFrom('orders')
      .select('state')
      .where('id', '=', orderId)
      .where('state', 'in', ['pending', 'aggregated', 'held'])
      .forUpdate()
      .executeTakeFirst();
    if (!unsettled) return undefined;
    const seconds = await endWithRefund(tx, orderId, 'failed', reason);
    return { state: 'failed' as const, route: routeOfState(unsettled.state), seconds };
  });
}

export interface Holding {
  crypto: string;
  amount: string;
}

/** A user's holdings: the sums of their completed orders, per crypto. */
export async function holdings(em: EntityManager, userId: number): Promise<Holding[]> {
  const rows = await sqlOf(em)
    .selectFrom('orders as o')
    .innerJoin('crypto_currencies as c', 'c.id', 'o.crypto_id')
    .select((q) => ['c.name as crypto', q.fn.sum<string>('o.amount').as('amount')])
    .where('o.user_id', '=', userId)
    .where('o.state', '=', 'completed')
    .groupBy('c.name')
    .orderBy('c.name')
    .execute();
  return rows.map((r) => ({ crypto: r.crypto, amount: formatQuantity(readQuantity(r.amount)) }));
}

/**
 * Ends a debited order `failed` or `cancelled` with its reason and refunds its total (ledger
 * `refund`), inside the caller's transaction, which has locked the order. Returns how long the order
 * lived, in seconds.
 */
export async function endWithRefund(
  tx: EntityManager,
  orderId: number,
  state: 'failed' | 'cancelled',
  reason: string,
): Promise<number> {
  const order = await sqlOf(tx)
    .updateTable('orders')
    .set({ state, failure_reason: reason.slice(0, 255), updated_at: sql`now()` })
    .where('id', '=', orderId)
    .returning(['user_id', 'total_price', secondsSinceCreated.as('seconds')])
    .executeTakeFirstOrThrow();
  const total = readUsd(order.total_price);
  await creditWallet(tx, order.user_id, total, { type: 'refund', orderId });
  return order.seconds;
}
