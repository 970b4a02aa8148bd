import { ApplicationFailure, getExternalWorkflowHandle } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { orderNotCancellable } from '../domain/errors.js';
import type { Canceller, OrderView } from '../domain/orders.js';
import { toFailure } from '../temporal/failures.js';
import { NOT_IN_POOL, orderSettledSignal, orderWorkflowId, type CancelRequest } from './definitions.js';

/**
 * Throws why the pool cannot cancel this order: a malformed request (anyone reaching Temporal can
 * send one), an order in the batch being bought, or one the pool does not hold (already settled,
 * not pooled, or its signal not arrived yet: the caller tells these apart from the order's row).
 */
export function refuseCancel(
  request: CancelRequest,
  pending: ReadonlyMap<number, unknown>,
  buying: ReadonlySet<number>,
) {
  if (!Number.isSafeInteger(request?.orderId) || cancellerOf(request) === undefined) {
    throw ApplicationFailure.create({
      message: 'a cancel is {orderId, by: "owner"} or {orderId, by: "admin", adminId}',
      nonRetryable: true,
    });
  }
  if (buying.has(request.orderId)) throw toFailure(orderNotCancellable('in a batch being bought'));
  if (!pending.has(request.orderId)) {
    throw ApplicationFailure.create({
      type: NOT_IN_POOL,
      message: `order ${request.orderId} is not waiting in this pool`,
      nonRetryable: true,
    });
  }
}

/** Who cancels, without the order id. */
export const cancellerOf = (request: CancelRequest): Canceller | undefined =>
  request?.by === 'owner'
    ? { by: 'owner' }
    : request?.by === 'admin' && Number.isSafeInteger(request.adminId)
      ? { by: 'admin', adminId: request.adminId }
      : undefined;

/**
 * Cancels and refunds the order in Postgres, then tells its workflow, which ends `cancelled`. The
 * order workflow may be gone (terminated): it has nothing left to wait for.
 */
export async function settleCancel(
  db: Pick<Activities, 'cancelOrder'>,
  request: CancelRequest,
): Promise<OrderView> {
  const { orderId } = request;
  const order = await db.cancelOrder(orderId, cancellerOf(request)!);
  await getExternalWorkflowHandle(orderWorkflowId(orderId))
    .signal(orderSettledSignal, { state: 'cancelled', reason: order.failure_reason ?? undefined })
    .catch(() => undefined);
  return order;
}
