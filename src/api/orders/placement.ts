import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ApplicationFailure,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { AppError, accountNotFound, conflict, unprocessable } from '../../domain/errors.js';
import { formatQuantity, type Units } from '../../domain/money.js';
import { activeCrypto, findOrder } from '../../services/orders.js';
import { requestHash } from '../../services/idempotency.js';
import { orderWorkflow } from '../../workflows/index.js';
import {
  orderWorkflowId,
  placeOrderUpdate,
  type OrderInput,
  type OrderView,
} from '../../workflows/definitions.js';

export interface OrderRequest {
  crypto: string;
  amount: Units;
}

export interface PlacementDeps {
  temporal: Client;
  taskQueue: string;
}

export type PlacementResponse =
  { status: 201; body: OrderView } | { status: number; body: { error: { code: string; message: string } } };

interface Reservation {
  orderId: number;
  /** The response stored for this Idempotency-Key by an earlier, finished request. */
  replay?: PlacementResponse;
}

/**
 * The order id comes from the orders sequence before anything else happens, so the workflow id is
 * known up front. With an Idempotency-Key the id is stored with the key: a retry, even a concurrent
 * one, reuses the same id and therefore the same workflow and the same debit.
 */
async function reserveOrderId(em: EntityManager, userId: number, key: string | undefined, request: unknown) {
  if (!key) {
    const [row] = await em.execute<{ id: string }[]>("select nextval('orders_id_seq') as id");
    return { orderId: Number(row!.id) } satisfies Reservation;
  }
  const hash = requestHash(request);
  await em
    .execute(
      `insert into idempotency_keys (user_id, scope, key, request_hash, order_id)
       values (?, 'order', ?, ?, nextval('orders_id_seq')) on conflict do nothing`,
      [userId, key, hash],
    )
    .catch((error: unknown) => {
      // The account was deleted after its token was issued.
      throw error instanceof ForeignKeyConstraintViolationException ? accountNotFound() : error;
    });
  const [row] = await em.execute<
    { request_hash: string; order_id: string; response_status: number | null; response_body: unknown }[]
  >(
    `select request_hash, order_id, response_status, response_body from idempotency_keys
      where user_id = ? and scope = 'order' and key = ?`,
    [userId, key],
  );
  if (!row || row.request_hash !== hash) {
    throw conflict(
      'idempotency_key_reused',
      'this Idempotency-Key was already used with a different request',
    );
  }
  const reservation: Reservation = { orderId: Number(row.order_id) };
  if (row.response_status !== null && row.response_body !== null) {
    reservation.replay = { status: row.response_status, body: row.response_body } as PlacementResponse;
  }
  return reservation;
}

/** The API error a refused placement carries (the debit activity's failure details). */
function refusalOf(error: unknown): AppError | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const [details] = cause.details ?? [];
  const { status, code, message } = (details ?? {}) as { status?: number; code?: string; message?: string };
  return status && code ? new AppError(status, code, message ?? cause.message) : undefined;
}

/**
 * Places an order and answers once the debit has committed: update-with-start on `order-<id>`
 * runs (or joins) the order workflow and waits for its `placeOrder` update. With an
 * Idempotency-Key the answer, a refusal included, is stored and replayed for retries.
 */
export async function placeOrder(
  deps: PlacementDeps,
  em: EntityManager,
  userId: number,
  request: OrderRequest,
  idempotencyKey: string | undefined,
): Promise<PlacementResponse> {
  const crypto = request.crypto;
  await activeCrypto(em, crypto); // 400 before anything is reserved or started
  const amount = formatQuantity(request.amount);
  const reservation = await reserveOrderId(em, userId, idempotencyKey, { crypto, amount });
  if (reservation.replay) return reservation.replay;

  const input: OrderInput = { orderId: reservation.orderId, userId, crypto, amount };
  const response = await runPlacement(deps, em, input);
  if (idempotencyKey) {
    await em.execute(
      `update idempotency_keys set response_status = ?, response_body = ?
        where user_id = ? and scope = 'order' and key = ? and response_status is null`,
      [response.status, JSON.stringify(response.body), userId, idempotencyKey],
    );
  }
  return response;
}

async function runPlacement(
  deps: PlacementDeps,
  em: EntityManager,
  input: OrderInput,
): Promise<PlacementResponse> {
  const workflowId = orderWorkflowId(input.orderId);
  try {
    const order = await deps.temporal.workflow.executeUpdateWithStart(placeOrderUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation(orderWorkflow, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      }),
    });
    return { status: 201, body: order };
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) return errorResponse(refusal);
    // The workflow already finished (a retry after a lost response): its outcome is recorded.
    const existing = await findOrder(em, input.orderId);
    if (existing) return { status: 201, body: existing };
    // Only a finished workflow is asked for its result: a running one may wait for a pool for minutes.
    const handle = deps.temporal.workflow.getHandle<typeof orderWorkflow>(workflowId);
    const finished = (await handle.describe().catch(() => undefined))?.status.name === 'COMPLETED';
    const outcome = finished ? await handle.result() : undefined;
    if (outcome?.state === 'rejected') {
      return errorResponse(
        unprocessable('order_not_placed', outcome.reason ?? 'the order could not be placed'),
      );
    }
    throw error;
  }
}

const errorResponse = (error: AppError): PlacementResponse => ({
  status: error.statusCode,
  body: { error: { code: error.code, message: error.message } },
});
