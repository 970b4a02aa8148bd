/**
 * Bench-only workflows, bundled for the baseline worker (its own task queue, `workflowsPath` = this
 * file). They do the least work that still has the shape of the real ones:
 *  - benchNoopWorkflow: started with update-with-start like `orderWorkflow`; the main body runs one
 *    no-op activity and the `run` update answers once it has (as `placeOrder` answers after the debit).
 *  - benchCounterWorkflow: absorbs `count` signals like `poolWorkflow` absorbs `addOrder`, answers the
 *    `count` query, and continues-as-new when Temporal suggests it.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';

export interface BenchActivities {
  noop(): Promise<void>;
}

export const benchRunUpdate = defineUpdate<string>('run');
export const benchCountSignal = defineSignal('count');
export const benchCountQuery = defineQuery<number>('count');

const { noop } = proxyActivities<BenchActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

export async function benchNoopWorkflow(): Promise<string> {
  let done = false;
  setHandler(benchRunUpdate, async () => {
    await condition(() => done);
    return 'ok';
  });
  await noop();
  done = true;
  await condition(allHandlersFinished);
  return 'ok';
}

export async function benchCounterWorkflow(start = 0): Promise<number> {
  let count = start;
  setHandler(benchCountSignal, () => void count++);
  setHandler(benchCountQuery, () => count);
  await condition(() => workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  return continueAsNew<typeof benchCounterWorkflow>(count);
}
