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
import { formatUsd, readUsd, sum } from '../domain/money.js';
import { routeFor } from '../domain/orders.js';
import {
  addToPoolSignal,
  cancelOrderUpdate,
  orderSettledSignal,
  orderWorkflowId,
  poolQuery,
  type PooledOrder,
  type Settlement,
} from './definitions.js';
import { refuseCancel, settleCancel } from './pool-cancel.js';
import { dbActivity } from './activity-options.js';
import { purchase } from './purchase.js';
import { currentTraceLink, inLinkedTrace, type TraceLink } from './tracing.js';
import { poolDetails } from './visibility.js';

// The pool's database work runs inside its workflow tasks: a batch is opened, bought and completed
// without activity tasks queueing on the server behind the orders'. Pools started before that
// replay with the regular activities their histories hold (see `locally`).
const localDb = proxyLocalActivities<Activities>(dbActivity);
const remoteDb = proxyActivities<Activities>(dbActivity);

type Fill = Parameters<Activities['completeBatch']>[1];

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
 * reaches the threshold, or its oldest order has waited `maxWaitMs`, one batch buys them all.
 * Orders arriving while a batch is bought wait for the next one. The pool continues-as-new when
 * Temporal suggests it, carrying every pending order.
 */
export async function poolWorkflow(input: PoolInput): Promise<void> {
  const db = patched('pool-local-activities') ? localDb : remoteDb;
  let threshold = readUsd(input.threshold);
  const pending = new Map((input.pending ?? []).map((o) => [o.orderId, o]));
  const settled = new Set(input.settled ?? []);
  let batches = input.batches ?? 0;
  /** The orders of the batch being opened and bought: too late to cancel them. */
  let buying = new Set<number>();

  const total = () => sum([...pending.values()].map((o) => readUsd(o.total)));
  const oldest = () => Math.min(...[...pending.values()].map((o) => o.addedAt));
  const flushAt = () => (pending.size === 0 ? undefined : oldest() + input.maxWaitMs);
  const shouldContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested ||
    (input.historyLimit !== undefined && workflowInfo().historyLength > input.historyLimit);
  // The Web UI's current details: the total against the threshold and when the pool is bought.
  const show = () =>
    setCurrentDetails(
      poolDetails({ total: total(), threshold, orders: pending.size, batches, flushAt: flushAt() }),
    );

  setHandler(addToPoolSignal, ({ threshold: current, ...order }) => {
    if (current !== undefined) threshold = readUsd(current);
    if (pending.has(order.orderId) || settled.has(order.orderId)) return;
    const trace = currentTraceLink();
    pending.set(order.orderId, { ...order, addedAt: Date.now(), ...(trace && { trace }) });
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
      pending.delete(order.orderId);
      settled.add(order.orderId);
      try {
        return await settleCancel(db, request);
      } catch (error) {
        pending.set(order.orderId, order);
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
      const orders = [...pending.values()];
      buying = new Set(orders.map((o) => o.orderId));
      const batchId = `${input.crypto}-${++batches}-${uuid4().slice(0, 8)}`;
      // The batch is a trace of its own, linked to the trace of each order it buys for.
      await inLinkedTrace(
        'BuyBatch',
        { 'batch.id': batchId, 'batch.crypto': input.crypto, 'batch.orders': orders.length },
        orders.flatMap((o) => (o.trace ? [o.trace] : [])),
        () =>
          buyBatch(
            batchId,
            orders.map((o) => o.orderId),
          ),
      );
      for (const o of orders) {
        pending.delete(o.orderId);
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

  async function buyBatch(batchId: string, orderIds: number[]): Promise<void> {
    const batch = await db.openBatch(batchId, input.crypto, orderIds);
    if (batch.orderIds.length === 0) return;
    const bought = await purchase(
      'batch',
      [batch, input.crypto],
      batch.batchId,
      input.crypto,
      db === localDb,
    );
    let settlement: Settlement;
    const failed = 'fill' in bought ? await completed(batch.batchId, bought.fill) : bought.failed;
    if (failed === undefined) {
      settlement = { state: 'completed', batchId };
    } else {
      await db.failBatch(batch.batchId, failed);
      settlement = { state: 'failed', batchId, reason: failed };
    }
    await Promise.all(
      batch.orderIds.map((id) =>
        // An order workflow that is gone has nothing left to wait for.
        getExternalWorkflowHandle(orderWorkflowId(id))
          .signal(orderSettledSignal, settlement)
          .catch(() => undefined),
      ),
    );
  }

  /**
   * Completes the batch; undefined when done, else why it could not be (a fill the completion
   * refuses for good, e.g. malformed): the batch is then failed and refunded, not left waiting.
   */
  async function completed(batchId: string, fill: Fill): Promise<string | undefined> {
    try {
      await db.completeBatch(batchId, fill);
      return undefined;
    } catch (error) {
      const cause = error instanceof ActivityFailure ? error.cause : error;
      if (!(cause instanceof ApplicationFailure && cause.nonRetryable)) throw error;
      return `not processed: ${cause.message}`;
    }
  }
}
