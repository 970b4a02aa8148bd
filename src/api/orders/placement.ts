import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  isGrpcServiceError,
  type Client,
} from '@temporalio/client';
import { DomainError, isErrorCode, unprocessable } from '../../domain/errors.js';
import type { OrderInput, OrderView } from '../../domain/orders.js';
import { fromFailure } from '../../temporal/failures.js';
import { errorStatus } from '../plugins/error-handler.js';
import { formatQuantity, type Units } from '../../domain/money.js';
import { activeCrypto, findPlacedOrder } from '../../services/orders.js';
import { findPlacementRecord, recordPlacing, type PlacementView } from '../../services/placements.js';
import { reserveOrderId, storeResponse } from '../../services/idempotency.js';
import { orderWorkflow } from '../../workflows/index.js';
import { orderWorkflowId, placedUpdate } from '../../workflows/definitions.js';
import { orderStartOptions } from '../../workflows/visibility.js';

export interface OrderRequest {
  crypto: string;
  amount: Units;
}

export interface PlacementDeps {
  temporal: Client;
  taskQueue: string;
  /** How long to wait for the debit before answering 202 with the order `placing`. */
  placementTimeoutMs: number;
  /** Deadline for starting the order's workflow; past it Temporal counts as unreachable (503). */
  rpcTimeoutMs: number;
}

type ErrorBody = { error: { code: string; message: string } };

export type PlacementResponse =
  | { status: 201; body: OrderView }
  /** Accepted: the workflow runs, the debit has not answered yet; `GET orders/{id}/` follows it. */
  | { status: 202; body: PlacementView }
  | { status: number; body: ErrorBody; retryAfterSeconds?: number };

/** What a client told 503 should wait before retrying. */
const RETRY_AFTER_SECONDS = 5;

/** The domain error a refused placement carries (the debit's refusal, through the `placed` update). */
const refusalOf = (error: unknown): DomainError | undefined =>
  error instanceof WorkflowUpdateFailedError ? fromFailure(error.cause) : undefined;

/** gRPC status codes (from @grpc/grpc-js, which the Temporal client uses but does not re-export). */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** Temporal did not answer: the server is down or unreachable (gRPC gave up or ran out of time). */
function unreachable(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e)) return e.code === GRPC_UNAVAILABLE || e.code === GRPC_DEADLINE_EXCEEDED;
  }
  return false;
}

/**
 * Places an order. The answer is 201 once the debit has committed, the debit's refusal (4xx), or,
 * when the debit has not answered within `placementTimeoutMs`, 202 with the order `placing`:
 * once its workflow has started, an order is never answered with a failure, since it may still
 * execute. If Temporal cannot be reached to start it, nothing can move money and the answer is
 * 503 with `Retry-After`. With an Idempotency-Key the final answer, a refusal included, is
 * stored and replayed; a retry of a 202 or 503 joins the same workflow, so it never buys twice.
 * `logFor` gives the logger for the order once its id is known; the outcome is one line on it.
 */
export async function placeOrder(
  deps: PlacementDeps,
  em: EntityManager,
  userId: number,
  request: OrderRequest,
  idempotencyKey: string | undefined,
  logFor: (orderId: number) => FastifyBaseLogger,
): Promise<PlacementResponse> {
  const crypto = request.crypto;
  await activeCrypto(em, crypto); // 400 before anything is reserved or started
  const amount = formatQuantity(request.amount);
  // The order id comes first, so the workflow id is known up front; a retry with the same
  // Idempotency-Key reuses it, and with it the same workflow and the same debit.
  const reservation = await reserveOrderId(em, userId, idempotencyKey, { crypto, amount });
  const log = logFor(reservation.orderId);
  if (reservation.stored) {
    log.info({ status: reservation.stored.status }, 'order answered again for its idempotency key');
    return reservation.stored as PlacementResponse;
  }

  const input: OrderInput = { orderId: reservation.orderId, userId, crypto, amount };
  const response = await runPlacement(deps, em, input);
  logOutcome(log, response);
  if (idempotencyKey && response.status !== 202 && response.status !== 503) {
    await storeResponse(em, { userId, scope: 'order', key: idempotencyKey }, response);
  }
  return response;
}

/** A refusal is a normal outcome (info, no stack); an unreachable Temporal is worth a warning. */
function logOutcome(log: FastifyBaseLogger, response: PlacementResponse): void {
  if (response.status === 201) {
    const order = response.body as OrderView;
    log.info({ state: order.state, crypto: order.crypto, total: order.total_price }, 'order placed');
  } else if (response.status === 202) {
    log.info('order placing: the debit did not answer in time');
  } else if (response.status === 503) {
    log.warn('order not started: Temporal is unreachable');
  } else {
    log.info({ code: (response.body as ErrorBody).error.code }, 'order refused');
  }
}

async function runPlacement(
  deps: PlacementDeps,
  em: EntityManager,
  input: OrderInput,
): Promise<PlacementResponse> {
  const workflowId = orderWorkflowId(input.orderId);
  try {
    // Starting needs only the server; the debit runs once a worker takes the workflow.
    await deps.temporal.withDeadline(Date.now() + deps.rpcTimeoutMs, () =>
      deps.temporal.workflow.start(orderWorkflow, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        ...orderStartOptions(input),
      }),
    );
  } catch (error) {
    // Already finished (a retry after a lost response): its outcome is recorded.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return outcomeSoFar(em, input);
    if (unreachable(error)) return temporalUnavailable();
    throw error;
  }

  // From here on the workflow may run and debit: only the debit's own answer, or 202.
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), deps.placementTimeoutMs);
  try {
    const order = await deps.temporal.withAbortSignal(giveUp.signal, () =>
      deps.temporal.workflow.getHandle(workflowId).executeUpdate(placedUpdate),
    );
    return { status: 201, body: order };
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) return errorResponse(refusal);
    // The wait ran out, Temporal went away, or the workflow finished before the update reached it.
    return outcomeSoFar(em, input);
  } finally {
    clearTimeout(timer);
  }
}

/** What the database knows about an order whose workflow started: placed, refused, or still placing. */
async function outcomeSoFar(em: EntityManager, input: OrderInput): Promise<PlacementResponse> {
  const placed = await findPlacedOrder(em, input.orderId);
  if (placed?.rejectedBecause) {
    return errorResponse(unprocessable('order_rejected', placed.rejectedBecause));
  }
  if (placed) return { status: 201, body: placed.order };
  const refused = (await findPlacementRecord(em, input.orderId))?.refusal;
  if (refused) {
    const code = isErrorCode(refused.code) ? refused.code : 'order_not_placed';
    return errorResponse(new DomainError(code, refused.message));
  }
  return { status: 202, body: await recordPlacing(em, input) };
}

const temporalUnavailable = (): PlacementResponse => ({
  status: 503,
  body: {
    error: {
      code: 'temporal_unavailable',
      message: 'orders cannot be placed right now (the workflow service is unreachable); nothing was charged',
    },
  },
  retryAfterSeconds: RETRY_AFTER_SECONDS,
});

const errorResponse = (error: DomainError): PlacementResponse => ({
  status: errorStatus(error),
  body: { error: { code: error.code, message: error.message } },
});
