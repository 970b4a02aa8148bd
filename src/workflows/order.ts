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
import { orderNotCancellable, unprocessable } from '../domain/errors.js';
import { orderClientId, type OrderInput, type OrderView, type Placement } from '../domain/orders.js';
import { fromFailure, toFailure } from '../temporal/failures.js';
import {
  cancelOrderUpdate,
  orderSettledSignal,
  orderStatusQuery,
  placedUpdate,
  pooledOrderOf,
  reviewOrderUpdate,
  type CancelRequest,
  type OrderStatus,
  type Review,
  type Settlement,
} from './definitions.js';
import { dbActivity } from './activity-options.js';
import { purchase, type Purchase } from './purchase.js';
import { cancellerOf } from './pool-cancel.js';
import { orderDetails, orderSearchAttributes } from './visibility.js';

// Everything an order does runs as local activities, inside its workflow tasks: the first workflow
// task debits (the API hears the answer from the debit's order event in Postgres), and a $12 order
// is bought and completed without a single activity task going through the server. The debit's
// activity goes on, when it can, with the buy and the completion or with joining the pool
// (src/activities/after-debit.ts); what it could not do, the workflow does. Exchange retries still
// wait on server timers (src/workflows/activity-options.ts).
const db = proxyLocalActivities<Activities>(dbActivity);
/** How orders started before the debit was local ran it: they replay with it (see `locally`). */
const { debitOrder: remoteDebit } = proxyActivities<Activities>(dbActivity);

/**
 * How long a refused order placed through the `placed` update (by earlier versions of the API)
 * stays open for it when it did not come with the start. After that the refusal is read from
 * Postgres (`order_placements`), where the debit recorded it.
 */
const REFUSAL_ANSWER_WAIT = '5 seconds';

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
 * One purchase, from debit to settlement. The API learns the debit's answer from the order's events
 * (`placementVia: 'events'`); the `placed` update, which earlier versions of the API wait on, answers
 * too once the debit has committed or been refused. An order the fraud rules hold waits for an admin's
 * `review` (or is rejected and refunded when nobody reviews it in time). Then the order is bought
 * alone (≥ threshold) or joins its crypto's pool and waits for the batch; a failed purchase is
 * refunded.
 */
export async function orderWorkflow(input: OrderInput): Promise<OrderStatus> {
  let status: OrderStatus = { orderId: input.orderId, state: 'placing' };
  let placement: PlacementOutcome | undefined;
  /** Whether anyone has asked for the placement (the update came, with the start or after it). */
  let placementAsked = false;
  let settlement: Settlement | undefined;
  let review: Review | undefined;
  let reviewed: OrderView | undefined;
  /** Why the review in progress was refused; its update handler throws it. */
  let reviewRefused: ApplicationFailure | undefined;
  /** A cancel of the held order, its outcome, or why it was refused (as for a review). */
  let cancel: CancelRequest | undefined;
  let cancelled: OrderView | undefined;
  let cancelRefused: ApplicationFailure | undefined;
  // Workflows started before the debit and the buy ran as local activities replay with the regular
  // activities they ran: their histories hold activity tasks where new ones hold markers.
  const locally = patched('order-local-activities');
  // Workflows started before the order set search attributes replay without upserting them.
  const upserts = patched('order-search-attributes');
  /** The state and total the search attributes hold (the start options set `placing`). */
  let shown = 'placing';
  show();

  setHandler(orderStatusQuery, () => status);
  setHandler(placedUpdate, async () => {
    placementAsked = true;
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
        if (status.state !== 'held' || review || cancel)
          throw new Error('the order is not waiting for review');
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
  // While the order is held its workflow decides a cancel (a pooled order's pool does), in turn
  // with reviews and the review timeout.
  setHandler(
    cancelOrderUpdate,
    async (request) => {
      cancel = request;
      await condition(() => cancelled !== undefined || cancelRefused !== undefined);
      if (cancelled) return cancelled;
      const failure = cancelRefused!;
      cancelRefused = undefined;
      cancel = undefined;
      throw failure;
    },
    {
      validator: (request: CancelRequest) => {
        if (request?.orderId !== input.orderId || cancellerOf(request) === undefined)
          throw new Error('a cancel is {orderId, by: "owner"} or {orderId, by: "admin", adminId}');
        if (status.state !== 'held' || review || cancel)
          throw toFailure(orderNotCancellable(status.state === 'held' ? 'being reviewed' : status.state));
      },
    },
  );
  // The first settlement wins; a repeated signal changes nothing.
  setHandler(orderSettledSignal, (s) => void (settlement ??= s));

  let placed: Awaited<ReturnType<Activities['debitOrder']>>;
  try {
    placed = await (locally ? db.debitOrder(input) : remoteDebit(input));
  } catch (error) {
    const failure = refusal(error);
    if (!failure) throw error;
    return refused({ ok: false, failure }, failure.message);
  }
  if (placed.route === 'rejected') {
    const reason = placed.reason ?? 'refused by the fraud rules';
    return refused({ ok: false, failure: toFailure(unprocessable('order_rejected', reason)) }, reason);
  }
  placement = { ok: true, order: placed.order };
  status = { ...status, state: placed.order.state };
  // When the activity went on (bought, or joined the pool), the next step shows the state it reached:
  // an upsert of the state in between would be one more command no one sees.
  if (!placed.after) show();

  try {
    return await settle(placed);
  } catch (error) {
    // Money moved, and a step after the debit failed for good (data it cannot use): refund rather
    // than leave the order debited and unsettled. If the refund fails too, the workflow fails.
    const failure = refusal(error);
    if (!failure) throw error;
    reviewRefused ??= failure;
    cancelRefused ??= failure;
    const reason = `not processed: ${failure.message}`;
    await db.refundOrder(input.orderId, reason);
    return finish(undefined, { state: 'failed', reason });
  }

  /** From a committed debit to the end: review if held, then the purchase alone or in the pool. */
  async function settle(placed: Awaited<ReturnType<Activities['debitOrder']>>): Promise<OrderStatus> {
    let next: Placement = placed;
    if (placed.route === 'review') {
      status = { ...status, reason: placed.reason };
      show();
      const deadline = Date.now() + placed.reviewTimeoutMs;
      for (;;) {
        const remaining = deadline - Date.now();
        const waited = () => review !== undefined || cancel !== undefined;
        const decided = remaining > 0 ? await condition(waited, remaining) : waited();
        if (cancel) {
          const done = await cancelStep(cancel);
          if (!done) continue;
          cancelled = done;
          return finish(undefined, { state: 'cancelled', reason: done.failure_reason ?? undefined });
        }
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
    // What the debit's activity already did (an approved order comes without it).
    const after = next === placed ? placed.after : undefined;
    if (next.route === 'exchange') {
      if (after && 'completed' in after) return finish(undefined, { state: 'completed' });
      const bought: Purchase =
        after && 'rejected' in after
          ? { failed: after.rejected }
          : after && 'fill' in after
            ? { fill: after.fill }
            : await purchase('order', [order], orderClientId(order.id), order.crypto, locally);
      if ('failed' in bought) {
        await db.refundOrder(order.id, bought.failed);
        return finish(undefined, { state: 'failed', reason: bought.failed });
      }
      await db.completeOrder(order.id, bought.fill);
      return finish(undefined, { state: 'completed' });
    }
    // Seen settled by the debit's activity: the pool will not signal this order (see
    // src/services/pool-signals.ts). Else the order waits for the pool's signal, unless the enqueue
    // finds it settled already (orders enqueued before it could answer so replay as they ran).
    const seen =
      after && 'settled' in after
        ? after.settled
        : after && 'enqueued' in after
          ? undefined
          : await db.enqueueInPool(order.crypto, pooledOrderOf(order));
    if (seen) return finish(undefined, { ...seen });
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

  /** A refusal ends the order; a `placed` update on its way (earlier APIs) answers with it first. */
  async function refused(outcome: PlacementOutcome, reason: string): Promise<OrderStatus> {
    placement = outcome;
    if (input.placementVia !== 'events') await condition(() => placementAsked, REFUSAL_ANSWER_WAIT);
    return finish(outcome, { state: 'rejected', reason });
  }

  /** Cancels the held order; on a refusal the update answers with it and the order stays held. */
  async function cancelStep(request: CancelRequest): Promise<OrderView | undefined> {
    try {
      return await db.cancelOrder(input.orderId, cancellerOf(request)!);
    } catch (error) {
      const failure = refusal(error);
      if (!failure) throw error;
      cancelRefused = failure;
      await condition(() => cancelRefused === undefined);
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
