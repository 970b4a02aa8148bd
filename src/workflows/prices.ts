import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { refreshPrices } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Run by the `refresh-prices` schedule: copies the exchange's prices into Postgres. */
export async function refreshPricesWorkflow(): Promise<number> {
  return refreshPrices();
}
