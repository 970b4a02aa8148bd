import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  orderSettledSignal,
  orderStatusQuery,
  placeOrderUpdate,
  type OrderInput,
  type OrderStatus,
  type OrderView,
  type Settlement,
} from './definitions.js';
import { dbActivity, exchangeActivity } from './retry.js';

const db = proxyActivities<Activities>(dbActivity);
const exchange = proxyActivities<Activities>(exchangeActivity);

type PlacementOutcome = { ok: true; order: OrderView } | { ok: false; failure: ApplicationFailure };

/** The application failure behind an activity failure, if the activity refused on purpose. */
function refusal(error: unknown): ApplicationFailure | undefined {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure
    ? error.cause
    : undefined;
}

/**
 * One purchase, from debit to settlement. The API waits on the `placeOrder` update, which answers
 * once the debit has committed or been refused. Then the order is bought alone (≥ threshold) or
 * joins its crypto's pool and waits for the batch; a failed purchase is refunded.
 */
export async function orderWorkflow(input: OrderInput): Promise<OrderStatus> {
  let status: OrderStatus = { orderId: input.orderId, state: 'placing' };
  let placement: PlacementOutcome | undefined;
  let settlement: Settlement | undefined;

  setHandler(orderStatusQuery, () => status);
  setHandler(placeOrderUpdate, async () => {
    await condition(() => placement !== undefined);
    if (!placement!.ok) throw placement!.failure;
    return placement!.order;
  });
  // The first settlement wins; a repeated signal changes nothing.
  setHandler(orderSettledSignal, (s) => void (settlement ??= s));

  let placed: Awaited<ReturnType<Activities['placeOrder']>>;
  try {
    placed = await db.placeOrder(input);
  } catch (error) {
    const failure = refusal(error);
    if (!failure) throw error;
    placement = { ok: false, failure };
    status = { ...status, state: 'rejected', reason: failure.message };
    await condition(allHandlersFinished);
    return status;
  }
  placement = { ok: true, order: placed.order };
  const { order } = placed;
  status = { ...status, state: order.state };

  if (placed.route === 'exchange') {
    const fill = await exchange.buyOrder(order).catch((error: unknown) => {
      if (!(error instanceof ActivityFailure)) throw error;
      return refusal(error)?.message ?? 'the exchange could not be reached';
    });
    if (typeof fill === 'string') {
      await db.refundOrder(order.id, fill);
      status = { ...status, state: 'failed', reason: fill };
    } else {
      await db.completeOrder(order.id, fill.exchangeOrderId);
      status = { ...status, state: 'completed' };
    }
  } else {
    await db.enqueueInPool(order.crypto, {
      orderId: order.id,
      total: order.total_price,
      amount: order.amount,
    });
    status = { ...status, state: 'aggregated' };
    await condition(() => settlement !== undefined);
    status = {
      ...status,
      state: settlement!.state,
      batchId: settlement!.batchId,
      reason: settlement!.reason,
    };
  }
  await condition(allHandlersFinished);
  return status;
}
