import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainError } from '../domain/errors.js';
import { formatQuantity, readQuantity } from '../domain/money.js';
import { isoTime } from '../db/values.js';
import type { PlacementState } from '../entities/order-placement.js';
import type { OrderInput } from '../domain/orders.js';

/** An order that has no order row: still being placed, or refused by the debit (no money moved). */
export interface PlacementView {
  id: number;
  crypto: string;
  amount: string;
  state: PlacementState;
  failure_code: string | null;
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** The refusal a `rejected` placement answers with (the debit's error). */
export interface PlacementRefusal {
  code: string;
  message: string;
}

interface PlacementRow {
  order_id: string;
  crypto: string;
  amount: string;
  state: PlacementState;
  error_status: number | null;
  error_code: string | null;
  reason: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

const toView = (row: PlacementRow): PlacementView => ({
  id: Number(row.order_id),
  crypto: row.crypto,
  amount: formatQuantity(readQuantity(row.amount)),
  state: row.state,
  failure_code: row.error_code,
  failure_reason: row.reason,
  created_at: isoTime(row.created_at),
  updated_at: isoTime(row.updated_at),
});

/** The API answered 202: the order shows `placing` until its debit commits or is refused. */
export async function recordPlacing(em: EntityManager, input: OrderInput): Promise<PlacementView> {
  await em.execute(
    `insert into order_placements (order_id, user_id, crypto, amount, state) values (?, ?, ?, ?, 'placing')
     on conflict (order_id) do nothing`,
    [input.orderId, input.userId, input.crypto, input.amount],
  );
  return (await findPlacementRecord(em, input.orderId))!.view;
}

/** The debit refused the order: it stays visible as `rejected`, with the code and reason. */
export async function recordRefusal(em: EntityManager, input: OrderInput, error: DomainError): Promise<void> {
  await em.execute(
    `insert into order_placements (order_id, user_id, crypto, amount, state, error_status, error_code, reason)
     values (?, ?, ?, ?, 'rejected', ?, ?, ?)
     on conflict (order_id) do update set state = 'rejected', error_status = excluded.error_status,
       error_code = excluded.error_code, reason = excluded.reason, updated_at = now()`,
    [
      input.orderId,
      input.userId,
      input.crypto,
      input.amount,
      null, // the status is the API's business: it follows from the code
      error.code.slice(0, 64),
      error.message.slice(0, 255),
    ],
  );
}

export async function findPlacementRecord(
  em: EntityManager,
  orderId: number,
  userId?: number,
): Promise<{ view: PlacementView; refusal?: PlacementRefusal } | undefined> {
  const [row] = await em.execute<PlacementRow[]>(
    `select order_id, crypto, amount, state, error_status, error_code, reason, created_at, updated_at
       from order_placements where order_id = ? and (?::int is null or user_id = ?)`,
    [orderId, userId ?? null, userId ?? null],
  );
  if (!row) return undefined;
  const view = toView(row);
  if (row.state !== 'rejected' || row.error_code === null) return { view };
  return { view, refusal: { code: row.error_code, message: row.reason ?? '' } };
}
