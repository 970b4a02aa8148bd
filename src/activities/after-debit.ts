import { ApplicationFailure } from '@temporalio/common';
import {
  stateOn,
  type AfterDebit,
  type OrderView,
  type Placement,
  type Settlement,
} from '../domain/orders.js';
import type { Fill } from '../exchange/exchange.js';
import { pooledOrderOf, type PooledOrder } from '../workflows/definitions.js';

/**
 * How long the buy after a debit may take: as long as one of the workflow's quick tries
 * (`exchangeLocalActivity`). An exchange slower than that is the workflow's to retry, on its own
 * timeouts. A request still on its way is found by the next try, which looks the order up first
 * (its request row is written before it is sent).
 */
export const QUICK_BUY_MS = 2_000;

/** The promise's value, or undefined when it has not settled within `ms` (its failure is then ignored). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The steps that may follow a debit in the same local activity (the activities of the same name). */
export interface StepsAfterDebit {
  buyOrder(order: Pick<OrderView, 'id' | 'crypto' | 'total_price'>): Promise<Fill>;
  completeOrder(orderId: number, fill: Fill): Promise<void>;
  joinPool(crypto: string, order: PooledOrder): Promise<void>;
  /** The pooled order's settlement if seen soon, else undefined once its workflow may wait for the pool's signal. */
  awaitSettlement(orderId: number): Promise<Settlement | undefined>;
}

/**
 * Goes on from a committed debit inside the debit's local activity: an order bought alone is bought
 * (one try, of at most QUICK_BUY_MS) and completed, a pooled one joins its pool and is watched for a
 * while for its batch's settlement (src/activities/settlements.ts). Each local
 * activity the workflow runs costs it an activation, and the worker a call into the workflow's
 * sandbox, which on a busy machine cost as much as the steps themselves (bench/README, "One local
 * activity").
 *
 * Every step is idempotent, so a crash anywhere here only repeats them: the debit finds its order,
 * the buy its request row (and looks the order up on the exchange first), the completion its
 * purchase. A step that fails is not retried here: the workflow takes it itself, with its own
 * retries, from what this returns (undefined: nothing after the debit was done).
 */
export async function afterDebit(
  placed: Placement,
  steps: StepsAfterDebit,
  log: (message: string, error: unknown) => void,
): Promise<AfterDebit | undefined> {
  const { order } = placed;
  // Only from the state the debit left: a retried debit may find the order settled since (bought,
  // refunded, batched, cancelled), and nothing after the debit applies to it any more.
  if (order.state !== stateOn(placed.route)) return undefined;
  if (placed.route === 'pool') {
    try {
      await steps.joinPool(order.crypto, pooledOrderOf(order));
    } catch (error) {
      log('joining the pool is left to the workflow', error);
      return undefined;
    }
    // Its batch is often bought within a moment (the feed sends a group once it fills the pool):
    // seen here, the workflow ends in this same task instead of waking again for the pool's signal.
    try {
      const settled = await steps.awaitSettlement(order.id);
      return settled ? { settled } : { enqueued: true };
    } catch (error) {
      // The order may be in its pool unsignalled: the workflow's own enqueue hands it over.
      log('waiting for the pool is left to the workflow', error);
      return undefined;
    }
  }
  if (placed.route !== 'exchange') return undefined;
  let fill: Fill | undefined;
  try {
    fill = await within(QUICK_BUY_MS, steps.buyOrder(order));
  } catch (error) {
    if (error instanceof ApplicationFailure && error.type === 'ExchangeRejected') {
      return { rejected: error.message };
    }
    log('the purchase is left to the workflow', error);
    return undefined;
  }
  if (fill === undefined) {
    log('the purchase is left to the workflow', `no answer within ${QUICK_BUY_MS} ms`);
    return undefined;
  }
  try {
    await steps.completeOrder(order.id, fill);
    return { completed: true };
  } catch (error) {
    log('recording the purchase is left to the workflow', error);
    return { fill };
  }
}
