import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainError } from '../domain/errors.js';
import { formatQuantity, readQuantity } from '../domain/money.js';
import { isoTime } from '../db/values.js';
import { sqlOf } from '../db/kysely.js';
import { isForeignKeyViolation } from '../db/violations.js';
import { publishPlacement } from './order-events.js';
import { sql } from 'kysely';
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

const selectPlacements = (em: EntityManager) =>
  sqlOf(em)
    .selectFrom('order_placements')
    .select(['order_id', 'crypto', 'amount', 'state', 'error_code', 'reason', 'created_at', 'updated_at']);

type PlacementRecord = Awaited<ReturnType<ReturnType<typeof selectPlacements>['executeTakeFirstOrThrow']>>;

const toView = (row: PlacementRecord): PlacementView => ({
  // bigint ids arrive as text
  id: Number(row.order_id),
  crypto: row.crypto,
  amount: formatQuantity(readQuantity(row.amount)),
  state: row.state,
  failure_code: row.error_code,
  failure_reason: row.reason,
  created_at: isoTime(row.created_at),
  updated_at: isoTime(row.updated_at),
});

const placementOf = (input: OrderInput) => ({
  order_id: input.orderId,
  user_id: input.userId,
  crypto: input.crypto,
  amount: input.amount,
});

/** The API answered 202: the order shows `placing` until its debit commits or is refused. */
export async function recordPlacing(em: EntityManager, input: OrderInput): Promise<PlacementView> {
  await sqlOf(em)
    .insertInto('order_placements')
    .values({ ...placementOf(input), state: 'placing' })
    .onConflict((oc) => oc.column('order_id').doNothing())
    .execute();
  return (await findPlacementRecord(em, input.orderId))!.view;
}

/** The debit refused the order: it stays visible as `rejected`, with the code and reason. */
export async function recordRefusal(em: EntityManager, input: OrderInput, error: DomainError): Promise<void> {
  const refusal = {
    state: 'rejected' as const,
    error_code: error.code.slice(0, 64),
    reason: error.message.slice(0, 255),
  };
  await em
    .transactional(async (tx) => {
      await sqlOf(tx)
        .insertInto('order_placements')
        .values({ ...placementOf(input), ...refusal })
        .onConflict((oc) => oc.column('order_id').doUpdateSet({ ...refusal, updated_at: sql`now()` }))
        .execute();
      // Its owner sees the order end, as `GET orders/{id}/` shows it.
      await publishPlacement(tx, input.userId, (await findPlacementRecord(tx, input.orderId))!.view);
    })
    .catch((failure: unknown) => {
      // The account is gone (the refusal says so): there is no one to show the order to.
      if (!isForeignKeyViolation(failure)) throw failure;
    });
}

export async function findPlacementRecord(
  em: EntityManager,
  orderId: number,
  userId?: number,
): Promise<{ view: PlacementView; refusal?: PlacementRefusal } | undefined> {
  const row = await selectPlacements(em)
    .where('order_id', '=', orderId)
    .$if(userId !== undefined, (q) => q.where('user_id', '=', userId!))
    .executeTakeFirst();
  if (!row) return undefined;
  const view = toView(row);
  if (row.state !== 'rejected' || row.error_code === null) return { view };
  return { view, refusal: { code: row.error_code, message: row.reason ?? '' } };
}
