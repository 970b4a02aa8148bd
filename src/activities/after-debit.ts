import { ApplicationFailure } from '@temporalio/common';
import type { AfterDebit, OrderView, Placement } from '../domain/orders.js';
import type { Fill } from '../exchange/exchange.js';
import type { PooledOrder } from '../workflows/definitions.js';

/** The steps that may follow a debit in the same local activity (the activities of the same name). */
export interface StepsAfterDebit {
  buyOrder(order: Pick<OrderView, 'id' | 'crypto' | 'total_price'>): Promise<Fill>;
  completeOrder(orderId: number, fill: Fill): Promise<void>;
  enqueueInPool(crypto: string, order: PooledOrder): Promise<void>;
}

/**
 * Goes on from a committed debit inside the debit's local activity: an order bought alone is bought
 * (one try) and completed, a pooled one joins its pool. Each local activity the workflow runs costs
 * it an activation, and the worker a call into the workflow's sandbox, which on a busy machine cost
 * as much as the steps themselves (bench/README, "One local activity").
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
  if (placed.route === 'pool') {
    try {
      await steps.enqueueInPool(order.crypto, {
        orderId: order.id,
        total: order.total_price,
        amount: order.amount,
      });
      return { enqueued: true };
    } catch (error) {
      log('joining the pool is left to the workflow', error);
      return undefined;
    }
  }
  if (placed.route !== 'exchange') return undefined;
  let fill: Fill;
  try {
    fill = await steps.buyOrder(order);
  } catch (error) {
    if (error instanceof ApplicationFailure && error.type === 'ExchangeRejected') {
      return { rejected: error.message };
    }
    log('the purchase is left to the workflow', error);
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
