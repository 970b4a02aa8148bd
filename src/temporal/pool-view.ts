import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { poolQuery, poolWorkflowId, type PoolView } from '../workflows/definitions.js';

/**
 * The pool of `crypto` as its workflow sees it, within `deadlineMs`; undefined when no pool runs
 * (none was ever started, or its last run is closed). Only a running pool is queried: a query on a
 * closed run goes to a worker of that run's task queue, which may be gone, and would wait for one
 * until the deadline. A pool that runs but does not answer in time (no worker) is an error.
 */
export async function readPoolView(
  temporal: Client,
  crypto: string,
  deadlineMs: number,
): Promise<PoolView | undefined> {
  const handle = temporal.workflow.getHandle(poolWorkflowId(crypto));
  try {
    return await temporal.withDeadline(Date.now() + deadlineMs, async () => {
      const { status } = await handle.describe();
      return status.name === 'RUNNING' ? await handle.query(poolQuery) : undefined;
    });
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}
