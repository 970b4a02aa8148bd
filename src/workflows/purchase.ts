import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  TemporalFailure,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { exchangeActivity, exchangeLocalActivity, exchangeLookupActivity } from './activity-options.js';

type Fill = Awaited<ReturnType<Activities['buyOrder']>>;
export type Purchase = { fill: Fill } | { failed: string };
type Args = Parameters<Activities['buyOrder']> | Parameters<Activities['buyBatch']>;

const quick = proxyLocalActivities<Activities>(exchangeLocalActivity);
const exchange = proxyActivities<Activities>(exchangeActivity);
const lookup = proxyActivities<Activities>(exchangeLookupActivity);

/**
 * Buys through the exchange and says how it ended. The first tries run as a local activity; an
 * exchange that does not answer them is retried as a regular activity for up to an hour. A
 * rejection fails the purchase. When the retries run out the exchange may still have bought it (an
 * answer lost on the way back), so it is asked before the purchase is called failed: nothing is
 * refunded that was bought. Every try after the first looks the order up before buying again
 * (src/activities/exchange-attempts.ts).
 */
export async function purchase(
  kind: 'order' | 'batch',
  args: Args,
  clientOrderId: string,
  crypto: string,
  /** False for workflows started before the quick tries existed: they replay without them. */
  quickly = true,
): Promise<Purchase> {
  if (quickly) {
    try {
      return { fill: await buy(quick, kind, args) };
    } catch (error) {
      const rejected = rejection(error);
      if (rejected !== undefined) return { failed: rejected };
    }
  }
  try {
    return { fill: await buy(exchange, kind, args) };
  } catch (error) {
    const rejected = rejection(error);
    if (rejected !== undefined) return { failed: rejected };
    const fill = await lookup.findFill(clientOrderId, crypto);
    return fill ? { fill } : { failed: 'the exchange could not be reached' };
  }
}

const buy = (activities: typeof exchange, kind: 'order' | 'batch', args: Args): Promise<Fill> =>
  kind === 'order'
    ? activities.buyOrder(...(args as Parameters<Activities['buyOrder']>))
    : activities.buyBatch(...(args as Parameters<Activities['buyBatch']>));

/**
 * Why the exchange refused, when it did; undefined when the buy failed for a reason worth retrying.
 * Anything that is not an activity's failure (a cancellation, a bug) is thrown on.
 */
function rejection(error: unknown): string | undefined {
  if (!(error instanceof TemporalFailure) || error instanceof CancelledFailure) throw error;
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure && cause.type === 'ExchangeRejected' ? cause.message : undefined;
}
