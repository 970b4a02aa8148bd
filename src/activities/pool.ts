import { WorkflowNotFoundError } from '@temporalio/client';
import {
  addOrdersToPoolSignal,
  orderSettledSignal,
  orderWorkflowId,
  poolTaskQueue,
  poolWorkflowId,
  type PooledOrder,
  type BatchSettled,
  type Settlement,
} from '../workflows/definitions.js';
import { formatUsd } from '../domain/money.js';
import { completeBatch, failBatch, openBatch, type OpenedBatch } from '../services/batches.js';
import type { Fill } from '../exchange/exchange.js';
import { countBuy, countExchangeErrors, permanentFailures } from './errors.js';
import { recordSettled } from '../metrics/worker-metrics.js';
import { earlierAttempt } from './exchange-attempts.js';
import { createPoolFeed } from './pool-feed.js';
import { currentTraceLink } from '../workflows/tracing.js';
import { currentPoolThreshold } from '../services/cryptos.js';
import { handOverToPool, ordersToSignal } from '../services/pool-signals.js';
import type { ActivityDeps } from './index.js';

export function createPoolActivities(deps: ActivityDeps) {
  const { orm, exchange, temporal, taskQueue } = deps;
  // One signal per group of orders; the crypto's threshold now (its market minimum may have risen)
  // travels with each.
  const feed = createPoolFeed({
    lingerMs: deps.poolFeedLingerMs ?? 0,
    threshold: deps.aggregationThreshold,
    async send(crypto, orders) {
      const threshold = await currentPoolThreshold(orm.em.fork(), crypto, deps.aggregationThreshold);
      await temporal.workflow.signalWithStart('poolWorkflow', {
        workflowId: poolWorkflowId(crypto),
        taskQueue: poolTaskQueue(taskQueue),
        args: [{ crypto, threshold: formatUsd(threshold), maxWaitMs: deps.aggregationMaxWaitMs }],
        signal: addOrdersToPoolSignal,
        signalArgs: [{ threshold: formatUsd(threshold), orders }],
      });
      return threshold;
    },
  });
  /**
   * Adds an order to its crypto's pool, in a signal it may share with other orders of this worker
   * (`feed`), starting the pool workflow if none runs (signal-with-start). Returns once the signal
   * is accepted. The order's span travels with it: the pool's batch links to it.
   */
  async function joinPool(crypto: string, order: PooledOrder): Promise<void> {
    const { threshold: _sentBefore, ...arrival } = order;
    const trace = currentTraceLink();
    await feed.add(crypto, { ...arrival, ...(trace && { trace }) });
  }
  /** What the debit's activity goes on with for a pooled order (src/activities/after-debit.ts). */
  const steps = {
    joinPool,
    /**
     * Watches the order, which the debit placed unsignalled, for its settlement, up to
     * POOL_SETTLE_WAIT; then hands it to the pool's signal, unless it was settled meanwhile.
     */
    async awaitSettlement(orderId: number): Promise<Settlement | undefined> {
      if (!deps.settlements) return undefined;
      return (await deps.settlements.settled(orderId)) ?? handOverToPool(orm.em.fork(), orderId);
    },
  };
  const activities = {
    /**
     * Puts the order in its pool for the workflow, when the debit's activity did not (or did not
     * hear how it went): hands it to the pool's signal first, so the workflow may wait for it, and
     * answers with the settlement instead when the order is settled already.
     */
    async enqueueInPool(crypto: string, order: PooledOrder): Promise<Settlement | undefined> {
      const settled = await handOverToPool(orm.em.fork(), order.orderId);
      if (settled) return settled;
      await joinPool(crypto, order);
      return undefined;
    },

    async openBatch(batchId: string, crypto: string, orderIds: number[]): Promise<OpenedBatch> {
      return openBatch(orm.em.fork(), batchId, crypto, orderIds, deps.aggregationThreshold);
    },

    /** One exchange purchase for the whole batch; the batch id is the client order id. */
    async buyBatch(batch: Pick<OpenedBatch, 'batchId' | 'notional'>, crypto: string): Promise<Fill> {
      const retryOf = await earlierAttempt(orm, batch.batchId);
      return countBuy(deps, 'batch', () =>
        permanentFailures(() =>
          countExchangeErrors(deps, 'buy', () =>
            exchange.buy({ clientOrderId: batch.batchId, crypto, notional: batch.notional, retryOf }),
          ),
        ),
      );
    },

    /**
     * Completes the batch with its fill and the house entries; a malformed fill fails for good.
     * Answers with the orders whose workflows wait for the pool's signal.
     */
    async completeBatch(batchId: string, fill: Fill): Promise<BatchSettled> {
      const completed = await permanentFailures(() => completeBatch(orm.em.fork(), batchId, fill));
      if (completed.length > 0) deps.metrics?.batchesSettled.inc({ state: 'completed' });
      recordSettled(deps.metrics, completed);
      return { signal: await ordersToSignal(orm.em.fork(), batchId) };
    },

    /**
     * Tells each order workflow of a settled batch how it ended. Sent from here rather than as the
     * pool's own signal commands: each of those comes back to the pool as an event and a workflow
     * task of its own, which at a few batches a second kept the pool busy with nothing else. Safe
     * to repeat (an order keeps the first settlement); an order workflow that is gone is skipped.
     */
    async settleOrders(orderIds: number[], settlement: Settlement): Promise<void> {
      await Promise.all(
        orderIds.map((id) =>
          temporal.workflow
            .getHandle(orderWorkflowId(id))
            .signal(orderSettledSignal, settlement)
            .catch((error: unknown) => {
              if (!(error instanceof WorkflowNotFoundError)) throw error;
            }),
        ),
      );
    },

    /** Fails and refunds the batch; answers with the orders whose workflows wait for the signal. */
    async failBatch(batchId: string, reason: string): Promise<BatchSettled> {
      const { batchFailed, refunded } = await failBatch(orm.em.fork(), batchId, reason);
      if (batchFailed) deps.metrics?.batchesSettled.inc({ state: 'failed' });
      recordSettled(deps.metrics, refunded);
      return { signal: await ordersToSignal(orm.em.fork(), batchId) };
    },
  };
  return { activities, steps };
}
