import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, type Expression } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { pgIdArray } from '../db/values.js';
import type { OrderView } from '../domain/orders.js';
import { DataError } from '../domain/errors.js';
import { selectOrders, toOrderView } from './orders.js';
import type { PlacementView } from './placements.js';

/** The Postgres channel every API process listens on. */
export const ORDER_EVENTS_CHANNEL = 'order_events';

/**
 * The first key of the transaction-scoped advisory lock that orders one user's events (the
 * second is the user id); any constant no other lock in the database uses.
 */
const EVENT_LOCK_CLASS = 0x6f_65;

/** What a user's event stream shows of an order: the view `GET orders/{id}/` answers with. */
export type OrderEventData = OrderView | PlacementView;

export interface OrderEvent {
  id: number;
  userId: number;
  orderId: number;
  data: OrderEventData;
}

interface Change {
  userId: number;
  orderId: number;
  data: OrderEventData;
}

/**
 * Stores the changes as events and sends them to every listening API process, in the caller's
 * transaction: the rows and the notifications commit with the change itself, or not at all
 * (Postgres delivers a NOTIFY only once its transaction commits). The caller holds the lock of each
 * changed user (`lockUsers`).
 */
async function insertEvents(tx: EntityManager, changes: Change[]): Promise<void> {
  if (changes.length === 0) return;
  const rows = sql.join(
    changes.map((c) => sql`(${c.userId}::int, ${c.orderId}::bigint, ${JSON.stringify(c.data)}::jsonb)`),
  );
  await sql`
    with e as (
      insert into order_events (user_id, order_id, payload) values ${rows}
      returning id, user_id, order_id, payload
    )
    select pg_notify(${ORDER_EVENTS_CHANNEL},
                     json_build_object('id', id, 'user_id', user_id, 'order_id', order_id, 'data', payload)::text)
      from e order by id`.execute(sqlOf(tx));
}

/**
 * Each user's events are ordered by a lock held until commit and taken before the id is drawn, so
 * a user's event ids increase in the order their transactions commit: an id seen means every
 * smaller id of that user committed. Users are locked in id order, and every caller publishes
 * once, after its other locks, so a transaction holding one of these locks waits only for another
 * of them, of a larger user id: no deadlock can form through them.
 */
const userLock = (userId: Expression<number> | number) =>
  sql<null>`pg_advisory_xact_lock(${EVENT_LOCK_CLASS}::int, ${userId}::int)`;

function inTransaction(tx: EntityManager): void {
  if (!tx.isInTransaction())
    throw new Error('order events are recorded in the transaction that changes the order');
}

/**
 * The one way an order's change reaches its owner's event stream: called by every transaction that
 * changes an order row, after its last change, with the ids of the orders it changed. Publishes each
 * order as it now reads in this transaction, and returns what it published. One statement reads the
 * orders and takes their users' locks: sorted by user, the locks are taken in that order (Postgres
 * evaluates a volatile function of the select list after the sort).
 */
export async function publishOrderChanges(tx: EntityManager, orderIds: number[]): Promise<OrderView[]> {
  if (orderIds.length === 0) return [];
  inTransaction(tx);
  const rows = await selectOrders(tx)
    .select((eb) => ['o.user_id', userLock(eb.ref('o.user_id')).as('locked')])
    .where('o.id', '=', sql<number>`any(${pgIdArray(orderIds)}::bigint[])`)
    .orderBy('o.user_id')
    .orderBy('o.id')
    .execute();
  const changes = rows.flatMap((row) => {
    try {
      return [{ userId: row.user_id, orderId: Number(row.id), data: toOrderView(row) }];
    } catch (error) {
      // A row that cannot be read cannot be shown either (nor by GET orders/{id}/); its change,
      // such as the refund of an order whose data is unreadable, must still commit.
      if (error instanceof DataError) return [];
      throw error;
    }
  });
  await insertEvents(tx, changes);
  return changes.map((c) => c.data);
}

/** A placement the debit refused has no order row; its owner sees it `rejected`, as `GET orders/{id}/` shows it. */
export async function publishPlacement(
  tx: EntityManager,
  userId: number,
  view: PlacementView,
): Promise<void> {
  inTransaction(tx);
  await sql`select ${userLock(userId)}`.execute(sqlOf(tx));
  await insertEvents(tx, [{ userId, orderId: view.id, data: view }]);
}

const toEvent = (row: { id: string; user_id: number; order_id: string; payload: unknown }): OrderEvent => ({
  // bigint ids arrive as text
  id: Number(row.id),
  userId: row.user_id,
  orderId: Number(row.order_id),
  data: row.payload as OrderEventData,
});

/** A user's events after `afterId`, oldest first, at most `limit`. */
export async function orderEventsAfter(
  em: EntityManager,
  userId: number,
  afterId: number,
  limit: number,
): Promise<OrderEvent[]> {
  const rows = await sqlOf(em)
    .selectFrom('order_events')
    .select(['id', 'user_id', 'order_id', 'payload'])
    .where('user_id', '=', userId)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => toEvent({ ...row, id: String(row.id), order_id: String(row.order_id) }));
}

/** The id of the user's latest event, 0 when there is none: where a stream without Last-Event-ID starts. */
export async function latestOrderEventId(em: EntityManager, userId: number): Promise<number> {
  const row = await sqlOf(em)
    .selectFrom('order_events')
    .select((q) => q.fn.max('id').as('id'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.id == null ? 0 : Number(row.id);
}

/** Deletes the events older than `retentionMs`; returns how many. */
export async function deleteOldOrderEvents(em: EntityManager, retentionMs: number): Promise<number> {
  const result = await sqlOf(em)
    .deleteFrom('order_events')
    .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${retentionMs / 1000})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Reads a notification sent by `recordEvents`; undefined for anything else. */
export function parseOrderEventNotification(payload: string | undefined): OrderEvent | undefined {
  try {
    const parsed = JSON.parse(payload ?? '') as Record<string, unknown>;
    const { id, user_id, order_id, data } = parsed;
    if (typeof id !== 'number' || typeof user_id !== 'number' || typeof order_id !== 'number')
      return undefined;
    if (typeof data !== 'object' || data === null) return undefined;
    return { id, userId: user_id, orderId: order_id, data: data as OrderEventData };
  } catch {
    return undefined;
  }
}
