import { condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../src/activities/index.js';
import type { OrderInput, OrderView } from '../../src/domain/orders.js';
import { placedUpdate, type OrderStatus } from '../../src/workflows/definitions.js';
import { dbActivity, exchangeLocalActivity } from '../../src/workflows/activity-options.js';

// An incompatible change to the order workflow, for test/replay.test.ts to catch: the same steps as
// an order bought alone by its workflow, but the fill is recorded before the buy. Recorded histories
// issue the buy first, so replaying them against this code must fail with a determinism violation.

const db = proxyLocalActivities<Activities>(dbActivity);
const exchange = proxyLocalActivities<Activities>(exchangeLocalActivity);

type Fill = Parameters<Activities['completeOrder']>[1];

export async function orderWorkflow(input: OrderInput): Promise<OrderStatus> {
  let placed: OrderView | undefined = undefined;
  setHandler(placedUpdate, async () => {
    await condition(() => placed !== undefined);
    return placed!;
  });
  placed = (await db.debitOrder(input)).order;
  await db.completeOrder(placed.id, {} as Fill);
  await exchange.buyOrder(placed);
  return { orderId: input.orderId, state: 'completed' };
}
