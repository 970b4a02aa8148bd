import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import { WorkflowExecutionAlreadyStartedError, isGrpcServiceError, type Client } from '@temporalio/client';
import { DomainError, isErrorCode, unprocessable } from '../../domain/errors.js';
import type { OrderInput, OrderView } from '../../domain/orders.js';
import { errorStatus } from '../plugins/error-handler.js';
import type { Cents } from '../../domain/money.js';
import { findPlacedOrder } from '../../services/orders.js';
import { findPlacementRecord, recordPlacing, type PlacementView } from '../../services/placements.js';
import { reserveOrderId, storeResponse } from '../../services/idempotency.js';
import { orderWorkflow } from '../../workflows/index.js';
import { orderWorkflowId } from '../../workflows/definitions.js';
import type { OrderEventHub } from '../order-events/hub.js';
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
  /** This process's listener for order events, through which the debit's answer arrives. */
  hub: OrderEventHub;
}

type ErrorBody = { error: { code: string; message: string } };

export type PlacementResponse =
  | { status: 201; body: OrderView }
  /** Accepted: the workflow runs, the debit has not answered yet; `GET orders/{id}/` follows it. */
  | { status: 202; body: PlacementView }
  | { status: number; body: ErrorBody; retryAfterSeconds?: number };

/** What a client told 503 should wait before retrying. */
const RETRY_AFTER_SECONDS = 5;

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
 * Starts the order's workflow and follows its placement through the order's events: the debit
 * publishes the placed order (or its refusal) in its own transaction, and this process's listener
 * (`OrderEventHub`) hears it as soon as that commits. The answer then does not wait for anything
 * else the workflow task runs (the exchange buy, the completion). Nothing moves money until the
 * workflow has started; a start not confirmed within the RPC deadline is checked with Temporal, and
 * an unreachable Temporal is answered 503. Past `placementTimeoutMs` the answer is what Postgres
 * knows, 202 `placing` when the debit has not answered.
 */
async function runPlacement(
  deps: PlacementDeps,
  em: EntityManager,
  input: OrderInput,
): Promise<PlacementResponse> {
  // Followed before the start, so that the debit's event cannot come first and be missed.
  const placement = deps.hub.followPlacement(input.orderId);
  try {
    const start = await startOrder(deps, { ...input, placementVia: 'events' });
    if (start === 'unreachable') return temporalUnavailable();
    const deadline = Date.now() + deps.placementTimeoutMs;
    // An earlier request's workflow (an Idempotency-Key retry) may have placed the order already.
    let look = start === 'existing';
    for (;;) {
      if (look) {
        const outcome = await outcomeIfSettled(em, input.orderId);
        if (outcome) return outcome;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return outcomeSoFar(em, input);
      const event = await placement.next(remaining);
      // The placed order, as GET orders/{id}/ shows it; a refusal's code is read from Postgres.
      if (event && 'price' in event.data && event.data.state !== 'failed') {
        return { status: 201, body: event.data };
      }
      look = true;
    }
  } finally {
    placement.stop();
  }
}

/**
 * Starts the order's workflow under the RPC deadline: `existing` when it was started before (by an
 * earlier request with the same Idempotency-Key), `unreachable` when Temporal cannot say.
 */
async function startOrder(
  deps: PlacementDeps,
  input: OrderInput,
): Promise<'started' | 'existing' | 'unreachable'> {
  const workflowId = orderWorkflowId(input.orderId);
  try {
    await deps.temporal.withDeadline(Date.now() + deps.rpcTimeoutMs, () =>
      deps.temporal.workflow.start(orderWorkflow, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        ...orderStartOptions(input),
      }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'existing';
    if (!unreachable(error)) throw error;
    // The start may have reached the server before the deadline: then the order may be debited.
    // Asked within half the deadline again, so that the 503 comes within 1.5 × the RPC deadline.
    return (await exists(deps, workflowId, deps.rpcTimeoutMs / 2)) ? 'existing' : 'unreachable';
  }
}

/**
 * Whether the order's workflow exists (a finished one too), asked within the RPC deadline;
 * undefined when Temporal cannot be reached.
 */
async function exists(
  deps: PlacementDeps,
  workflowId: string,
  deadlineMs: number,
): Promise<boolean | undefined> {
  try {
    await deps.temporal.withDeadline(Date.now() + deadlineMs, () =>
      deps.temporal.workflow.getHandle(workflowId).describe(),
    );
    return true;
  } catch (error) {
    return unreachable(error) ? undefined : false;
  }
}

/** What the database knows of an order whose debit has answered: placed or refused; undefined while placing. */
async function outcomeIfSettled(em: EntityManager, orderId: number): Promise<PlacementResponse | undefined> {
  const placed = await findPlacedOrder(em, orderId);
  if (placed?.rejectedBecause) {
    return errorResponse(unprocessable('order_rejected', placed.rejectedBecause));
  }
  if (placed) return { status: 201, body: placed.order };
  const refused = (await findPlacementRecord(em, orderId))?.refusal;
  if (refused) {
    const code = isErrorCode(refused.code) ? refused.code : 'order_not_placed';
    return errorResponse(new DomainError(code, refused.message));
  }
  return undefined;
}

/** What the database knows about an order whose workflow started: placed, refused, or still placing (202). */
async function outcomeSoFar(em: EntityManager, input: OrderInput): Promise<PlacementResponse> {
  return (await outcomeIfSettled(em, input.orderId)) ?? { status: 202, body: await recordPlacing(em, input) };
}

const temporalUnavailable = (): PlacementResponse => ({
  ...errorResponse(
    new DomainError(
      'temporal_unavailable',
      'orders cannot be placed right now (the workflow service is unreachable); nothing was charged',
    ),
  ),
  retryAfterSeconds: RETRY_AFTER_SECONDS,
});

const errorResponse = (error: DomainError): PlacementResponse => ({
  status: errorStatus(error),
  body: { error: { code: error.code, message: error.message } },
});
