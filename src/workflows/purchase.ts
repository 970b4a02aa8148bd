import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { exchangeActivity, exchangeLookupActivity } from './activity-options.js';

type Fill = Awaited<ReturnType<Activities['buyOrder']>>;
export type Purchase = { fill: Fill } | { failed: string };

const exchange = proxyActivities<Activities>(exchangeActivity);
const lookup = proxyActivities<Activities>(exchangeLookupActivity);

/**
 * Buys through the exchange and says how it ended. A rejection fails the purchase. When the
 * retries run out the exchange may still have bought it (an answer lost on the way back), so it is
 * asked before the purchase is called failed: nothing is refunded that was bought.
 */
export async function purchase(
  kind: 'order' | 'batch',
  args: Parameters<Activities['buyOrder']> | Parameters<Activities['buyBatch']>,
  clientOrderId: string,
  crypto: string,
): Promise<Purchase> {
  try {
    const fill =
      kind === 'order'
        ? await exchange.buyOrder(...(args as Parameters<Activities['buyOrder']>))
        : await exchange.buyBatch(...(args as Parameters<Activities['buyBatch']>));
    return { fill };
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    if (error.cause instanceof ApplicationFailure && error.cause.type === 'ExchangeRejected') {
      return { failed: error.cause.message };
    }
    const fill = await lookup.findFill(clientOrderId, crypto);
    return fill ? { fill } : { failed: 'the exchange could not be reached' };
  }
}
