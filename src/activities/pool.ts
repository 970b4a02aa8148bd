import { WorkflowNotFoundError } from '@temporalio/client';
import {
  addToPoolSignal,
  orderSettledSignal,
  orderWorkflowId,
  poolTaskQueue,
  poolWorkflowId,
  type PooledOrder,
  type Settlement,
} from '../workflows/definitions.js';
import { formatUsd } from '../domain/money.js';
import { completeBatch, failBatch, openBatch, type OpenedBatch } from '../services/batches.js';
import type { Fill } from '../exchange/exchange.js';
import { countBuy, countExchangeErrors, permanentFailures } from './errors.js';
import { recordSettled } from '../metrics/worker-metrics.js';
import { earlierAttempt } from './exchange-attempts.js';
import { currentPoolThreshold } from '../services/cryptos.js';
import type { ActivityDeps } from './index.js';

export function createPoolActivities(deps: ActivityDeps) {
  const { orm, exchange, temporal, taskQueue } = deps;
  return {
    /**
     * Adds an order to its crypto's pool, starting the pool workflow if none runs (signal-with-start).
     * The crypto's threshold now (its market minimum may have risen) travels with the order.
     */
    async enqueueInPool(crypto: string, order: PooledOrder): Promise<void> {
      const threshold = formatUsd(
        await currentPoolThreshold(orm.em.fork(), crypto, deps.aggregationThreshold),
      );
      await temporal.workflow.signalWithStart('poolWorkflow', {
        workflowId: poolWorkflowId(crypto),
        taskQueue: poolTaskQueue(taskQueue),
        args: [{ crypto, threshold, maxWaitMs: deps.aggregationMaxWaitMs }],
        signal: addToPoolSignal,
        signalArgs: [{ ...order, threshold }],
      });
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

    /** Completes the batch with its fill and the house entries; a malformed fill fails for good. */
    async completeBatch(batchId: string, fill: Fill): Promise<void> {
      const completed = await permanentFailures(() => completeBatch(orm.em.fork(), batchId, fill));
      if (completed.length > 0) deps.metrics?.batchesSettled.inc({ state: 'completed' });
      recordSettled(deps.metrics, completed);
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

    async failBatch(batchId: string, reason: string): Promise<void> {
      const { batchFailed, refunded } = await failBatch(orm.em.fork(), batchId, reason);
      if (batchFailed) deps.metrics?.batchesSettled.inc({ state: 'failed' });
      recordSettled(deps.metrics, refunded);
    },
  };
}
