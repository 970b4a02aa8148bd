import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { formatQuantity, formatUsd, readQuantity, readUsd, totalPrice, type Cents } from '../domain/money.js';
import { DomainError, accountNotFound, badRequest, notFound, unprocessable } from '../domain/errors.js';
import { recordRefusal } from './placements.js';
import { isoTime } from '../db/values.js';
import { appendEntry, creditWallet, debitWallet } from './wallet.js';
import { gatherFraudFacts } from './fraud.js';
import { assess, type FraudConfig } from '../domain/fraud.js';
import {
  routeFor,
  stateOn,
  type OrderInput,
  type OrderState,
  type OrderView,
  type Placement,
  type PlacementRoute,
} from '../domain/orders.js';
import { toPage, type Page } from './pagination.js';

/** An order as raw SQL returns it: ids as text, timestamps as Postgres text. */
export type OrderRow = Omit<OrderView, 'id' | 'created_at' | 'updated_at'> & {
  id: string;
  created_at: string | Date;
  updated_at: string | Date;
};

const SELECT = `select o.id, c.name as crypto, o.amount, o.price, o.total_price, o.state, o.batch_id,
  o.failure_reason, o.created_at, o.updated_at from orders o join crypto_currencies c on c.id = o.crypto_id`;

export const toOrderView = (row: OrderRow): OrderView => ({
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
  const [row] = await em.execute<OrderRow[]>(`${SELECT} where o.id = ?`, [orderId]);
  return row && toOrderView(row);
}

export async function getUserOrder(em: EntityManager, userId: number, orderId: number): Promise<OrderView> {
  const [row] = await em.execute<OrderRow[]>(`${SELECT} where o.user_id = ? and o.id = ?`, [userId, orderId]);
  if (!row) throw notFound('order');
  return toOrderView(row);
}

export async function listUserOrders(
  em: EntityManager,
  userId: number,
  limit: number,
  cursor?: number,
): Promise<Page<OrderView>> {
  const rows = await em.execute<OrderRow[]>(
    `${SELECT} where o.user_id = ? and (?::bigint is null or o.id < ?) order by o.id desc limit ?`,
    [userId, cursor ?? null, cursor ?? null, limit + 1],
  );
  return toPage(rows, limit, toOrderView, (item) => item.id);
}

export async function activeCrypto(em: EntityManager, name: string): Promise<{ id: number; price: Cents }> {
  const [row] = await em.execute<{ id: number; price: string }[]>(
    'select id, price from crypto_currencies where name = ? and active',
    [name],
  );
  if (!row) throw badRequest('unknown_crypto', `"${name}" is not a cryptocurrency on sale`);
  return { id: row.id, price: readUsd(row.price) };
}

export interface DebitOptions {
  /** Orders whose total is below this are pooled. */
  threshold: Cents;
  /** Largest accepted order total. */
  maxTotal: Cents;
  fraud: FraudConfig;
}

/** Where a placed order goes next, from what the debit transaction recorded. */
function routeOf(
  row: { state: OrderState; total_price: string; fraud_rule: string | null },
  threshold: Cents,
): PlacementRoute {
  if (row.state === 'held') return 'review';
  if (row.state === 'failed' && row.fraud_rule) return 'rejected';
  return routeFor(readUsd(row.total_price), threshold);
}

/**
 * Locks the buyer's account for the debit transaction: the user row against deletion, the wallet
 * against concurrent debits. A user deleted after their token was issued is refused here, before
 * anything is read that would not make sense without them.
 */
async function lockBuyer(tx: EntityManager, userId: number): Promise<void> {
  const [user] = await tx.execute<{ id: number }[]>('select id from users where id = ? for key share', [
    userId,
  ]);
  if (!user) throw accountNotFound();
  const [wallet] = await tx.execute<{ id: number }[]>('select id from wallets where user_id = ? for update', [
    userId,
  ]);
  if (!wallet) throw unprocessable('wallet_not_found', 'the account has no wallet');
}

/**
 * The debit: one transaction checks that the buyer and their wallet exist, reads the price, asks the fraud rules, debits the wallet only if it
 * holds the total, and inserts the order and its ledger entry. A rejected order is recorded as
 * failed without moving money; a held one is debited and waits for review. Idempotent by order
 * id: a retry after the commit finds the order and changes nothing.
 */
export async function debitOrder(
  em: EntityManager,
  input: OrderInput,
  options: DebitOptions,
): Promise<Placement> {
  const existing = await findPlacement(em, input.orderId, options.threshold);
  if (existing) return existing;
  try {
    await em.transactional(async (tx) => {
      await lockBuyer(tx, input.userId);
      const crypto = await activeCrypto(tx, input.crypto);
      const quantity = readQuantity(input.amount);
      const total = totalPrice(quantity, crypto.price);
      if (total < 1n) throw badRequest('total_too_small', 'the order total is below $0.01');
      if (total > options.maxTotal) {
        throw badRequest('total_too_large', `the order total must not exceed ${formatUsd(options.maxTotal)}`);
      }
      const decision = assess(await gatherFraudFacts(tx, input.userId, total, options.fraud), options.fraud);
      const state: OrderState =
        decision.action === 'reject'
          ? 'failed'
          : decision.action === 'hold'
            ? 'held'
            : stateOn(routeFor(total, options.threshold));
      // The order row goes first: a concurrent attempt for the same id waits on it, then finds it.
      await tx.execute(
        `insert into orders (id, user_id, crypto_id, amount, price, total_price, state, fraud_rule, fraud_reason,
           failure_reason) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          input.orderId,
          input.userId,
          crypto.id,
          input.amount,
          formatUsd(crypto.price),
          formatUsd(total),
          state,
          decision.rule ?? null,
          decision.reason ?? null,
          decision.action === 'reject' ? `rejected: ${decision.reason}` : null,
        ],
      );
      if (decision.action === 'reject') return;
      const wallet = await debitWallet(tx, input.userId, total);
      await appendEntry(tx, wallet.id, 'withdrawal', total, input.orderId);
    });
  } catch (error) {
    // A refusal moved no money: it is recorded so that the order id shows what happened to it
    // (to its buyer: a deleted account has nobody to show it to, and no row to refer to).
    if (error instanceof DomainError) {
      if (error.code !== 'account_not_found') await recordRefusal(em, input, error);
      throw error;
    }
    // A concurrent attempt committed first; fall through to read what it wrote.
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
  }
  return (await findPlacement(em, input.orderId, options.threshold))!;
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
  const [row] = await em.execute<(OrderRow & { fraud_rule: string | null; fraud_reason: string | null })[]>(
    `${SELECT.replace('select ', 'select o.fraud_rule, o.fraud_reason, ')} where o.id = ?`,
    [orderId],
  );
  if (!row) return undefined;
  return {
    order: toOrderView(row),
    route: routeOf(row, threshold),
    rule: row.fraud_rule ?? undefined,
    reason: row.fraud_reason ?? undefined,
  };
}

export async function completeOrder(
  em: EntityManager,
  orderId: number,
  exchangeOrderId: string,
): Promise<void> {
  await em.execute(
    `update orders set state = 'completed', exchange_order_id = ?, updated_at = now()
      where id = ? and state in ('pending', 'held')`,
    [exchangeOrderId, orderId],
  );
}

/**
 * Marks an unsettled order failed and refunds its total, in one transaction. Idempotent: an order
 * already failed or completed is left alone, and the ledger allows one refund per order.
 */
export async function refundOrder(em: EntityManager, orderId: number, reason: string): Promise<void> {
  await em.transactional(async (tx) => {
    const [order] = await tx.execute<{ user_id: number; total_price: string }[]>(
      `update orders set state = 'failed', failure_reason = ?, updated_at = now()
        where id = ? and state in ('pending', 'aggregated', 'held') returning user_id, total_price`,
      [reason.slice(0, 255), orderId],
    );
    if (!order) return;
    const total = readUsd(order.total_price);
    const wallet = await creditWallet(tx, order.user_id, total);
    await appendEntry(tx, wallet.id, 'refund', total, orderId);
  });
}

export interface Holding {
  crypto: string;
  amount: string;
}

/** A user's holdings: the sums of their completed orders, per crypto. */
export async function holdings(em: EntityManager, userId: number): Promise<Holding[]> {
  const rows = await em.execute<{ crypto: string; amount: string }[]>(
    `select c.name as crypto, sum(o.amount) as amount from orders o join crypto_currencies c on c.id = o.crypto_id
      where o.user_id = ? and o.state = 'completed' group by c.name order by c.name`,
    [userId],
  );
  return rows.map((r) => ({ crypto: r.crypto, amount: formatQuantity(readQuantity(r.amount)) }));
}
