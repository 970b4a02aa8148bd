import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { formatUsd, readUsd, type Cents } from '../domain/money.js';
import { routeFor } from '../domain/orders.js';
import {
  addOrdersToPoolSignal,
  addToPoolSignal,
  cancelOrderUpdate,
  orderSettledSignal,
  orderWorkflowId,
  poolQuery,
  type PooledOrder,
  type BatchSettled,
  type Settlement,
} from './definitions.js';
import { refuseCancel, settleCancel } from './pool-cancel.js';
import { dbActivity } from './activity-options.js';
import { purchase } from './purchase.js';
import { currentTraceLink, inLinkedTrace, type TraceLink } from './tracing.js';
import { poolDetails } from './visibility.js';

// A calm pool opens, buys and completes a batch with local activities, inside its workflow task: no
// activity task goes through the server. But a workflow task running local activities stays open
// until they finish while signals keep coming, and once more arrive than the server buffers for one
// task (100 events) it fails the task and everything in it runs again: at a few hundred orders a
// second such a pool stops buying. A pool that gathered more orders than a calm one does between
// batches is receiving them faster than its tasks turn over, so it buys with regular activities,
// which keep each of its tasks a few milliseconds long. (Pools started before this replay as they
// ran; see `batchActivities`.)
const localDb = proxyLocalActivities<Activities>(dbActivity);
const remoteDb = proxyActivities<Activities>(dbActivity);

type Fill = Parameters<Activities['completeBatch']>[1];

/**
 * The most orders one batch buys for. A batch signals each of its orders' workflows, and Temporal
 * refuses a workflow task that would leave more than 2,000 signals to other workflows pending: a
 * pool that fell behind buys what it holds in several batches.
 */
const MAX_BATCH_ORDERS = 500;

/** A batch of more orders than this is bought with regular activities (see above). */
const LOCAL_BATCH_ORDERS = 25;

/** How many settled order ids are remembered across continue-as-new to drop late duplicate signals. */
const REMEMBERED_SETTLED = 1_000;

/** `trace`: where the order joined the pool, in the order's trace, when the worker traces. */
type PendingOrder = PooledOrder & { addedAt: number; trace?: TraceLink };

export interface PoolInput {
  crypto: string;
  /**
   * The crypto's threshold (USD string): the pool is bought once it holds this much. Each enqueued
   * order brings the current one, which replaces it.
   */
  threshold: string;
  /** A pool older than this is bought anyway, the house paying up to the minimum. */
  maxWaitMs: number;
  /** Carried across continue-as-new. */
  pending?: PendingOrder[];
  settled?: number[];
  batches?: number;
  /** Tests: continue-as-new once history exceeds this many events. */
  historyLimit?: number;
}

/**
 * The pool of one crypto's small orders. Signals add orders (deduplicated by id); once the pool
 * reaches the threshold, or its oldest order has waited `maxWaitMs`, one batch buys them all (at
 * most MAX_BATCH_ORDERS; the rest in the next). Orders arriving while a batch is bought wait for the
 * next one. The pool continues-as-new when Temporal suggests it, carrying every pending order.
 */
export async function poolWorkflow(input: PoolInput): Promise<void> {
  // New runs choose per batch; runs that recorded only the local-activity patch ran every batch
  // locally, and the oldest (neither patch) none.
  const batchActivities = patched('pool-batch-activities');
  // New runs tell a batch's orders how it ended from an activity; older runs signalled each order
  // from the workflow, and replay so.
  const settleByActivity = patched('pool-settle-activity');
  const allLocal = !batchActivities && patched('pool-local-activities');
  /** Whether a batch of this many orders is bought with local activities. */
  const locallyFor = (orders: number) => (batchActivities ? orders <= LOCAL_BATCH_ORDERS : allLocal);
  /** A cancel is one quick transaction, run locally except by the oldest pools. */
  const db = batchActivities || allLocal ? localDb : remoteDb;
  let threshold = readUsd(input.threshold);
  const pending = new Map<number, PendingOrder>();
  /** The pending orders' total, kept as they come and go: a signal costs the same however full. */
  let pendingTotal: Cents = 0n;
  const settled = new Set(input.settled ?? []);
  let batches = input.batches ?? 0;
  /** The orders of the batch being opened and bought: too late to cancel them. */
  let buying = new Set<number>();

  const add = (order: PendingOrder) => {
    pending.set(order.orderId, order);
    pendingTotal += readUsd(order.total);
  };
  const remove = (order: PendingOrder) => {
    if (pending.delete(order.orderId)) pendingTotal -= readUsd(order.total);
  };
  for (const order of input.pending ?? []) add(order);

  const total = () => pendingTotal;
  // Orders join in time order and leave in batches, so the first one held is the oldest (a cancel
  // refused by the database puts its order back in place, see below).
  const oldest = () => pending.values().next().value?.addedAt;
  const flushAt = () => {
    const first = oldest();
    return first === undefined ? undefined : first + input.maxWaitMs;
  };
  const shouldContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested ||
    (input.historyLimit !== undefined && workflowInfo().historyLength > input.historyLimit);
  // The Web UI's current details: the total against the threshold and when the pool is bought.
  const show = () =>
    setCurrentDetails(
      poolDetails({ total: total(), threshold, orders: pending.size, batches, flushAt: flushAt() }),
    );

  /** An order joins once (signals may repeat), in the trace it was sent from. */
  const join = (order: PooledOrder, trace: TraceLink | undefined) => {
    if (pending.has(order.orderId) || settled.has(order.orderId)) return;
    add({ ...order, addedAt: Date.now(), ...(trace && { trace }) });
  };
  setHandler(addOrdersToPoolSignal, ({ threshold: current, orders }) => {
    if (current !== undefined) threshold = readUsd(current);
    const signalTrace = currentTraceLink();
    for (const { trace, ...order } of orders ?? []) join(order, trace ?? signalTrace);
    show();
  });
  setHandler(addToPoolSignal, ({ threshold: current, ...order }) => {
    if (current !== undefined) threshold = readUsd(current);
    join(order, currentTraceLink());
    show();
  });
  // The pool decides a cancel, so a cancel racing the batch either takes the order out before the
  // batch is opened or is refused. The handler removes it before its first await and puts it back
  // if the database refuses (validators do not run on replay: the handler checks again).
  setHandler(
    cancelOrderUpdate,
    async (request) => {
      refuseCancel(request, pending, buying);
      const order = pending.get(request.orderId)!;
      remove(order);
      settled.add(order.orderId);
      try {
        return await settleCancel(db, request);
      } catch (error) {
        putBack(order);
        settled.delete(order.orderId);
        throw error instanceof ActivityFailure && error.cause ? error.cause : error;
      }
    },
    { validator: (request) => refuseCancel(request, pending, buying) },
  );
  // A query runs against the workflow's clock of its last task, not the current time: it reports
  // absolute times and leaves ages to the caller.
  setHandler(poolQuery, () => {
    const at = flushAt();
    return {
      crypto: input.crypto,
      total: formatUsd(total()),
      threshold: formatUsd(threshold),
      orders: [...pending.values()].map(({ addedAt, trace: _trace, ...o }) => ({
        ...o,
        added_at: new Date(addedAt).toISOString(),
      })),
      batches,
      flush_at: at === undefined ? null : new Date(at).toISOString(),
    };
  });

  for (;;) {
    show();
    const at = flushAt();
    // A pool big enough to be bought alone is bought now.
    const full = () => routeFor(total(), threshold) === 'exchange';
    if (at === undefined) await condition(() => full() || shouldContinueAsNew() || pending.size > 0);
    else await condition(() => full() || shouldContinueAsNew(), Math.max(0, at - Date.now()));

    const due = flushAt();
    if (full() || (due !== undefined && Date.now() >= due)) {
      // Pools that bought without a cap replay as they ran.
      const orders = [...pending.values()].slice(0, batchActivities ? MAX_BATCH_ORDERS : undefined);
      buying = new Set(orders.map((o) => o.orderId));
      const batchId = `${input.crypto}-${++batches}-${uuid4().slice(0, 8)}`;
      // The batch is a trace of its own, linked to the trace of each order it buys for.
      const waiting = await inLinkedTrace(
        'BuyBatch',
        { 'batch.id': batchId, 'batch.crypto': input.crypto, 'batch.orders': orders.length },
        orders.flatMap((o) => (o.trace ? [o.trace] : [])),
        () =>
          buyBatch(
            batchId,
            orders.map((o) => o.orderId),
          ),
      );
      // Orders the batch could not take and that still wait (see buyBatch) stay for the next one.
      for (const o of orders) {
        if (waiting.has(o.orderId)) continue;
        remove(o);
        settled.add(o.orderId);
      }
      buying = new Set();
    }
    if (shouldContinueAsNew()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof poolWorkflow>({
        ...input,
        threshold: formatUsd(threshold),
        pending: [...pending.values()],
        settled: [...settled].slice(-REMEMBERED_SETTLED),
        batches,
      });
    }
  }

  /** Returns an order to the pool where its join time places it. */
  function putBack(order: PendingOrder): void {
    const after = [...pending.values()].filter((o) => o.addedAt > order.addedAt);
    for (const o of after) remove(o);
    add(order);
    for (const o of after) add(o);
  }

  /**
   * Opens, buys and settles one batch, and returns the orders asked for that it did not take but
   * that still wait for a batch. Those exist when a workflow task that opened this batch with local
   * activities was failed and run again with the orders that arrived meanwhile: the batch keeps the
   * orders its first open took (it may be bought already), and the others wait for the next.
   */
  async function buyBatch(batchId: string, orderIds: number[]): Promise<Set<number>> {
    const locally = locallyFor(orderIds.length);
    const db = locally ? localDb : remoteDb;
    const batch = await db.openBatch(batchId, input.crypto, orderIds);
    const waiting = new Set(batch.waiting ?? []);
    if (batch.orderIds.length === 0) return waiting;
    const bought = await purchase('batch', [batch, input.crypto], batch.batchId, input.crypto, locally);
    let settlement: Settlement;
    const outcome = 'fill' in bought ? await completed(db, batch.batchId, bought.fill) : bought;
    let settled: BatchSettled | void;
    if ('failed' in outcome) {
      settled = await db.failBatch(batch.batchId, outcome.failed);
      settlement = { state: 'failed', batchId, reason: outcome.failed };
    } else {
      settled = outcome.settled;
      settlement = { state: 'completed', batchId };
    }
    // The orders whose workflows wait for this signal: the others were seen settled by their debit's
    // activity (src/services/pool-signals.ts). Activities before that answered nothing: all of them.
    if (settleByActivity) {
      if (!settled) await db.settleOrders(batch.orderIds, settlement);
      else if (settled.signal.length > 0) await db.settleOrders(settled.signal, settlement);
    } else
      await Promise.all(
        batch.orderIds.map((id) =>
          // An order workflow that is gone has nothing left to wait for.
          getExternalWorkflowHandle(orderWorkflowId(id))
            .signal(orderSettledSignal, settlement)
            .catch(() => undefined),
        ),
      );
    return waiting;
  }

  /**
   * Completes the batch, or says why it could not be (a fill the completion refuses for good, e.g.
   * malformed): the batch is then failed and refunded, not left waiting.
   */
  async function completed(
    db: typeof localDb,
    batchId: string,
    fill: Fill,
  ): Promise<{ settled: BatchSettled | void } | { failed: string }> {
    try {
      return { settled: await db.completeBatch(batchId, fill) };
    } catch (error) {
      const cause = error instanceof ActivityFailure ? error.cause : error;
      if (!(cause instanceof ApplicationFailure && cause.nonRetryable)) throw error;
      return { failed: `not processed: ${cause.message}` };
    }
  }
}
