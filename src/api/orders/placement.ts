import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  isGrpcServiceError,
  type Client,
} from '@temporalio/client';
import { DomainError, isErrorCode, unprocessable } from '../../domain/errors.js';
import type { OrderInput, OrderView } from '../../domain/orders.js';
import { fromFailure } from '../../temporal/failures.js';
import { errorStatus } from '../plugins/error-handler.js';
import type { Cents } from '../../domain/money.js';
import { findPlacedOrder } from '../../services/orders.js';
import { findPlacementRecord, recordPlacing, type PlacementView } from '../../services/placements.js';
import { reserveOrderId, storeResponse } from '../../services/idempotency.js';
import { orderWorkflow } from '../../workflows/index.js';
import { orderWorkflowId, placedUpdate } from '../../workflows/definitions.js';
import { prepareOrder, quoteRefusal, type OrderRequest } from './order-request.js';
import { orderStartOptions } from '../../workflows/visibility.js';

export type { OrderRequest } from './order-request.js';

export interface PlacementDeps {
  temporal: Client;
  taskQueue: string;
  /** How long to wait for the debit before answering 202 with the order `placing`. */
  placementTimeoutMs: number;
  /** Deadline for starting the order's workflow; past it Temporal counts as unreachable (503). */
  rpcTimeoutMs: number;
  /** Largest order total (MAX_AMOUNT), for pricing a USD total before the debit. */
  maxTotal: Cents;
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
  // 400 (unknown crypto, a total out of bounds) or 404 (unknown quote) before anything is reserved.
  const prepared = await prepareOrder(em, userId, request, deps.maxTotal);
  // The order id comes first, so the workflow id is known up front; a retry with the same
  // Idempotency-Key reuses it, and with it the same workflow and the same debit.
  const reservation = await reserveOrderId(em, userId, idempotencyKey, prepared.fingerprint);
  const log = logFor(reservation.orderId);
  if (reservation.stored) {
    log.info({ status: reservation.stored.status }, 'order answered again for its idempotency key');
    return reservation.stored as PlacementResponse;
  }

  // The debit claims the quote for good; this only answers early when it would be refused.
  const refusal = prepared.quote && quoteRefusal(prepared.quote, reservation.orderId);
  const input: OrderInput = { orderId: reservation.orderId, userId, ...prepared.order };
  const response = refusal ? errorResponse(refusal) : await runPlacement(deps, em, input);
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

/**
 * Starts the order's workflow and asks for its placement in one call (update-with-start): the
 * update reaches the workflow's first task, which debits and answers it. Nothing moves money until
 * the workflow has started; when the start is not confirmed within the RPC deadline (the call waits
 * for the debit, and keeps retrying while Temporal is down), Temporal is asked whether the workflow
 * exists, and an unreachable Temporal ends the wait with 503.
 */
async function runPlacement(
  deps: PlacementDeps,
  em: EntityManager,
  input: OrderInput,
): Promise<PlacementResponse> {
  const workflowId = orderWorkflowId(input.orderId);
  const startWorkflowOperation = new WithStartWorkflowOperation(orderWorkflow, {
    workflowId,
    taskQueue: deps.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    ...orderStartOptions(input),
  });
  // Set from callbacks: an object, so that the checks below read its current value.
  const workflow: { start: 'unknown' | 'started' | 'unreachable' } = { start: 'unknown' };
  void startWorkflowOperation.workflowHandle().then(
    () => (workflow.start = 'started'),
    (error: unknown) => {
      if (error instanceof WorkflowExecutionAlreadyStartedError) workflow.start = 'started';
    },
  );
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), deps.placementTimeoutMs);
  const watchdog = setTimeout(async () => {
    if (workflow.start !== 'unknown') return;
    const found = await exists(deps, workflowId);
    if (found) workflow.start = 'started';
    else if (found === undefined && workflow.start === 'unknown') {
      workflow.start = 'unreachable';
      giveUp.abort();
    }
  }, deps.rpcTimeoutMs);
  try {
    const call = deps.temporal.withAbortSignal(giveUp.signal, () =>
      deps.temporal.workflow.executeUpdateWithStart(placedUpdate, { startWorkflowOperation }),
    );
    // The gRPC retries behind the call may outlast the abort; the answer does not wait for them.
    call.catch(() => undefined);
    const order = await Promise.race([call, aborted(giveUp.signal)]);
    return { status: 201, body: order };
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) return errorResponse(refusal);
    // Once the workflow exists it may run and debit: only the debit's own answer, or 202.
    if (workflow.start === 'unknown' && !unreachable(error) && (await exists(deps, workflowId))) {
      workflow.start = 'started';
    }
    if (workflow.start === 'started') return outcomeSoFar(em, input);
    if (workflow.start === 'unreachable' || unreachable(error) || giveUp.signal.aborted) {
      return temporalUnavailable();
    }
    throw error;
  } finally {
    clearTimeout(timer);
    clearTimeout(watchdog);
  }
}

/** Rejects once `signal` aborts. */
const aborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(new Error('placement wait given up')), { once: true });
  });

/**
 * Whether the order's workflow exists (a finished one too), asked within the RPC deadline;
 * undefined when Temporal cannot be reached.
 */
async function exists(deps: PlacementDeps, workflowId: string): Promise<boolean | undefined> {
  try {
    await deps.temporal.withDeadline(Date.now() + deps.rpcTimeoutMs, () =>
      deps.temporal.workflow.getHandle(workflowId).describe(),
    );
    return true;
  } catch (error) {
    return unreachable(error) ? undefined : false;
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
