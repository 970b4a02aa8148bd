import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { PRICE_SCHEDULE_ID } from '../workflows/definitions.js';

/** Creates the price-refresh schedule, or updates its interval if it exists. */
export async function ensurePriceSchedule(client: Client, taskQueue: string, everyMs: number): Promise<void> {
  const spec = { intervals: [{ every: everyMs }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'refreshPricesWorkflow',
    taskQueue,
    workflowId: 'refresh-prices',
  };
  try {
    await client.schedule.create({
      scheduleId: PRICE_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(PRICE_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action }));
  }
}
