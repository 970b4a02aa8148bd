import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { unprocessable } from '../domain/errors.js';
import { orderClientId, type OrderInput, type OrderView, type Placement } from '../domain/orders.js';
import { fromFailure, toFailure } from '../temporal/failures.js';
import {
  orderSettledSignal,
  orderStatusQuery,
  placedUpdate,
  reviewOrderUpdate,
  type OrderStatus,
  type Review,
  type Settlement,
} from './definitions.js';
import { dbActivity } from './activity-options.js';
import { purchase } from './purchase.js';
import { orderDetails, orderSearchAttributes } from './visibility.js';

// The debit is a regular activity: when it refuses, the workflow ends, and the refusal must reach
// the waiting update first (run as a local activity in the same workflow task, the server would see
// the workflow complete before the update did). The bookkeeping after a committed debit runs as
// local activities, in the workflow task itself; exchange buys stay regular activities so their
// retries are server timers, visible in the history (src/workflows/purchase.ts).
const { debitOrder } = proxyActivities<Activities>(dbActivity);
const db = proxyLocalActivities<Activities>(dbActivity);

type PlacementOutcome = { ok: true; order: OrderView } | { ok: false; failure: ApplicationFailure };

/**
 * The application failure behind an activity failure, if the activity refused on purpose. A
 * regular activity's failure wraps it in an ActivityFailure; a local activity's arrives as is.
 */
function refusal(error: unknown): ApplicationFailure | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? cause : undefined;
}

/**
 * One purchase, from debit to settlement. The API waits on the `placed` update, which answers
 * once the debit has committed or been refused. An order the fraud rules hold waits for an admin's
 * `review` (or is rejected and refunded when nobody reviews it in time). Then the order is bought
 * alone (≥ threshold) or joins its crypto's pool and waits for the batch; a failed purchase is
 * refunded.
 */
export async function orderWorkflow(input: OrderInput): Promise<OrderStatus> {
  let status: OrderStatus = { orderId: input.orderId, state: 'placing' };
  let placement: PlacementOutcome | undefined;
  let settlement: Settlement | undefined;
  let review: Review | undefined;
  let reviewed: OrderView | undefined;
  /** Why the review in progress was refused; its update handler throws it. */
  let reviewRefused: ApplicationFailure | undefined;
  // Workflows started before the order set search attributes replay without upserting them.
  const upserts = patched('order-search-attributes');
  /** The state and total the search attributes hold (the start options set `placing`). */
  let shown = 'placing';
  show();

  setHandler(orderStatusQuery, () => status);
  setHandler(placedUpdate, async () => {
    await condition(() => placement !== undefined);
    if (!placement!.ok) throw placement!.failure;
    return placement!.order;
  });
  setHandler(
    reviewOrderUpdate,
    async (decision) => {
      review = decision;
      await condition(() => reviewed !== undefined || reviewRefused !== undefined);
      if (reviewed) return reviewed;
      const failure = reviewRefused!;
      // The order is still held: the next review may come from an admin.
      reviewRefused = undefined;
      review = undefined;
      throw failure;
    },
    {
      validator: (decision: Review) => {
        if (status.state !== 'held' || review) throw new Error('the order is not waiting for review');
        // Anyone reaching Temporal can send this: a reviewer must be named (no id is the timeout's).
        if (
          (decision?.decision !== 'approve' && decision?.decision !== 'reject') ||
          !Number.isSafeInteger(decision.adminId)
        ) {
          throw new Error('a review is {decision: "approve" | "reject", adminId: an integer}');
        }
      },
    },
  );
  // The first settlement wins; a repeated signal changes nothing.
  setHandler(orderSettledSignal, (s) => void (settlement ??= s));

  let placed: Awaited<ReturnType<Activities['debitOrder']>>;
  try {
    placed = await debitOrder(input);
  } catch (error) {
    const failure = refusal(error);
    if (!failure) throw error;
    return finish({ ok: false, failure }, { state: 'rejected', reason: failure.message });
  }
  if (placed.route === 'rejected') {
    const reason = placed.reason ?? 'refused by the fraud rules';
    return finish(
      { ok: false, failure: toFailure(unprocessable('order_rejected', reason)) },
      { state: 'rejected', reason },
    );
  }
  placement = { ok: true, order: placed.order };
  status = { ...status, state: placed.order.state };
  show();

  try {
    return await settle(placed);
  } catch (error) {
    // Money moved, and a step after the debit failed for good (data it cannot use): refund rather
    // than leave the order debited and unsettled. If the refund fails too, the workflow fails.
    const failure = refusal(error);
    if (!failure) throw error;
    reviewRefused ??= failure;
    const reason = `not processed: ${failure.message}`;
    await db.refundOrder(input.orderId, reason);
    return finish(undefined, { state: 'failed', reason });
  }

  /** From a committed debit to the end: review if held, then the purchase alone or in the pool. */
  async function settle(placed: Placement & { reviewTimeoutMs: number }): Promise<OrderStatus> {
    let next: Placement = placed;
    if (placed.route === 'review') {
      status = { ...status, reason: placed.reason };
      show();
      const deadline = Date.now() + placed.reviewTimeoutMs;
      for (;;) {
        const remaining = deadline - Date.now();
        const decided =
          remaining > 0 ? await condition(() => review !== undefined, remaining) : review !== undefined;
        if (!decided || review!.decision === 'reject') {
          const reason = decided ? 'rejected by review' : 'not reviewed in time';
          const rejected = await reviewStep(() =>
            db.rejectHeldOrder(input.orderId, decided ? review!.adminId : null, reason),
          );
          if (!rejected) continue;
          reviewed = rejected;
          return finish(undefined, { state: 'failed', reason });
        }
        const approved = await reviewStep(() => db.approveHeldOrder(input.orderId, review!.adminId));
        if (!approved) continue;
        next = approved;
        reviewed = next.order;
        status = { ...status, state: next.order.state, reason: undefined };
        show();
        break;
      }
    }

    const { order } = next;
    if (next.route === 'exchange') {
      const bought = await purchase('order', [order], orderClientId(order.id), order.crypto);
      if ('failed' in bought) {
        await db.refundOrder(order.id, bought.failed);
        return finish(undefined, { state: 'failed', reason: bought.failed });
      }
      await db.completeOrder(order.id, bought.fill);
      return finish(undefined, { state: 'completed' });
    }
    await db.enqueueInPool(order.crypto, {
      orderId: order.id,
      total: order.total_price,
      amount: order.amount,
    });
    status = { ...status, state: 'aggregated' };
    show();
    await condition(() => settlement !== undefined);
    return finish(undefined, {
      state: settlement!.state,
      batchId: settlement!.batchId,
      reason: settlement!.reason,
    });
  }

  /**
   * Applies a review decision. When the activity refuses the reviewer (not an admin in Postgres),
   * the refusal answers the update, the order stays held, and undefined says to wait on.
   */
  async function reviewStep<T>(apply: () => Promise<T>): Promise<T | undefined> {
    try {
      return await apply();
    } catch (error) {
      const failure = refusal(error);
      if (!failure || fromFailure(failure)?.code !== 'reviewer_not_admin') throw error;
      reviewRefused = failure;
      // Wait until the update handler has taken the refusal and cleared the review.
      await condition(() => reviewRefused === undefined);
      return undefined;
    }
  }

  /**
   * Shows the status in the Web UI: the current details always, the search attributes when the
   * state or the total changed (an upsert is a command in the history).
   */
  function show(): void {
    const order = placement?.ok ? placement.order : undefined;
    const attributes = `${status.state} ${order?.total_price ?? ''}`.trim();
    if (upserts && attributes !== shown)
      upsertSearchAttributes(orderSearchAttributes(input, status.state, order));
    shown = attributes;
    setCurrentDetails(orderDetails(status, order));
  }

  /** Records the final status and lets every update in flight answer before the workflow closes. */
  async function finish(outcome: PlacementOutcome | undefined, final: Omit<OrderStatus, 'orderId'>) {
    if (outcome) placement = outcome;
    status = { orderId: input.orderId, ...final };
    show();
    await condition(allHandlersFinished);
    return status;
  }
}
