import type { EntityManager } from '@mikro-orm/postgresql';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { notFound, orderNotCancellable } from '../../domain/errors.js';
import type { Canceller, OrderView } from '../../domain/orders.js';
import { fromFailure } from '../../temporal/failures.js';
import { cancelTarget } from '../../services/cancellations.js';
import { findPlacementRecord } from '../../services/placements.js';
import {
  NOT_IN_POOL,
  cancelOrderUpdate,
  orderWorkflowId,
  poolWorkflowId,
} from '../../workflows/definitions.js';

/**
 * How long a cancel waits for a pooled order to reach its pool: the order is `aggregated` from its
 * debit, and its workflow hands it to the pool right after.
 */
const POOL_JOIN_WAIT_MS = 5_000;
const POOL_JOIN_POLL_MS = 100;

/** The workflow that holds an order's pool: the one place that knows how pools are laid out. */
export const poolOfOrder = (temporal: Client, order: { crypto: string }): WorkflowHandle =>
  temporal.workflow.getHandle(poolWorkflowId(order.crypto));

/**
 * Cancels a waiting order through the workflow that owns it (its pool while `aggregated`, its own
 * workflow while `held`), which refunds it. `ownerId` restricts it to the owner's orders (another
 * user's is not found); an admin passes none. Refused with `order_not_cancellable` (409) when the
 * order is in a batch, settled, or still being placed.
 */
export async function cancelWaitingOrder(
  temporal: Client,
  em: EntityManager,
  orderId: number,
  canceller: Canceller,
  ownerId?: number,
): Promise<OrderView> {
  const deadline = Date.now() + POOL_JOIN_WAIT_MS;
  const request = { orderId, ...canceller };
  for (;;) {
    const target = await cancelTarget(em, orderId, ownerId);
    if (!target) {
      // No order row: accepted and not yet debited (or refused by its debit), or not the caller's.
      const placement = await findPlacementRecord(em, orderId, ownerId);
      if (placement) throw orderNotCancellable(placement.view.state);
      throw notFound('order');
    }
    if (target.inBatch) throw orderNotCancellable('in a batch being bought');
    const owner =
      target.state === 'held'
        ? temporal.workflow.getHandle(orderWorkflowId(orderId))
        : target.state === 'aggregated'
          ? poolOfOrder(temporal, target)
          : undefined;
    if (!owner) throw orderNotCancellable(target.state);
    try {
      return (await owner.executeUpdate(cancelOrderUpdate, { args: [request] })) as OrderView;
    } catch (error) {
      const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
      const refusal = fromFailure(cause);
      // Approved while the cancel was on its way: it now waits in its pool, which decides.
      if (refusal && target.state === 'held') {
        const now = await cancelTarget(em, orderId, ownerId);
        if (now?.state === 'aggregated' && !now.inBatch && Date.now() < deadline) continue;
      }
      if (refusal) throw refusal;
      // The pool has not had the order's signal yet (or, for its first order, does not exist yet).
      const notPooledYet =
        (cause instanceof ApplicationFailure && cause.type === NOT_IN_POOL) ||
        (target.state === 'aggregated' && error instanceof WorkflowNotFoundError);
      if (notPooledYet && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, POOL_JOIN_POLL_MS));
        continue;
      }
      // Decided meanwhile (bought, reviewed, cancelled): the order's row says what it is now.
      const now = await cancelTarget(em, orderId, ownerId);
      if (cause || (now && now.state !== target.state)) {
        throw orderNotCancellable(now?.inBatch ? 'in a batch being bought' : (now?.state ?? target.state));
      }
      throw error;
    }
  }
}
