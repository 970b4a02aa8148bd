import { completeOrder, placeOrder, refundOrder } from '../services/orders.js';
import type { Fill } from '../exchange/exchange.js';
import type { OrderInput, OrderView, Placement } from '../workflows/definitions.js';
import { permanentFailures } from './errors.js';
import type { ActivityDeps } from './index.js';

export function createOrderActivities({ orm, exchange, aggregationThreshold, maxOrderTotal }: ActivityDeps) {
  return {
    /** The debit (see services/orders.ts): refusals are permanent and carry the API error code. */
    async placeOrder(input: OrderInput): Promise<Placement> {
      return permanentFailures(() =>
        placeOrder(orm.em.fork(), input, { threshold: aggregationThreshold, maxTotal: maxOrderTotal }),
      );
    },

    /** Buys one order alone; the order id is the client order id, so a retry never buys twice. */
    async buyOrder(order: Pick<OrderView, 'id' | 'crypto' | 'total_price'>): Promise<Fill> {
      return permanentFailures(() =>
        exchange.buy({
          clientOrderId: `order-${order.id}`,
          crypto: order.crypto,
          notional: order.total_price,
        }),
      );
    },

    async completeOrder(orderId: number, exchangeOrderId: string): Promise<void> {
      await completeOrder(orm.em.fork(), orderId, exchangeOrderId);
    },

    async refundOrder(orderId: number, reason: string): Promise<void> {
      await refundOrder(orm.em.fork(), orderId, reason);
    },
  };
}
