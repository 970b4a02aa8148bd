import { completeOrder, debitOrder, findOrder, refundOrder } from '../services/orders.js';
import { approveHeldOrder, rejectHeldOrder } from '../services/reviews.js';
import { cancelOrder } from '../services/cancellations.js';
import type { Fill } from '../exchange/exchange.js';
import {
  orderClientId,
  type Canceller,
  type OrderInput,
  type AfterDebit,
  type OrderView,
  type Placement,
} from '../domain/orders.js';
import { countBuy, countExchangeErrors, permanentFailures } from './errors.js';
import { recordSettled } from '../metrics/worker-metrics.js';
import { afterEveryAttempt, earlierAttempt } from './exchange-attempts.js';
import { log } from '@temporalio/activity';
import { DomainError } from '../domain/errors.js';
import type { ActivityDeps } from './index.js';
import { afterDebit, type StepsAfterDebit } from './after-debit.js';

export function createOrderActivities(
  deps: ActivityDeps,
  pool: Pick<StepsAfterDebit, 'joinPool' | 'awaitSettlement'>,
) {
  const { orm, exchange, aggregationThreshold } = deps;
  /** `attemptCounts`: whether this activity's attempts are the buy's (not when it follows a debit). */
  async function buyAlone(order: Pick<OrderView, 'id' | 'crypto' | 'total_price'>, attemptCounts: boolean) {
    const clientOrderId = orderClientId(order.id);
    const request = {
      clientOrderId,
      crypto: order.crypto,
      notional: order.total_price,
      retryOf: await earlierAttempt(orm, clientOrderId, attemptCounts),
    };
    return countBuy(deps, 'order', () =>
      permanentFailures(() => countExchangeErrors(deps, 'buy', () => exchange.buy(request))),
    );
  }
  // What the debit's activity goes on with. A retried debit is not a retried buy: the request row
  // says whether one was sent.
  const stepsAfterDebit: StepsAfterDebit = {
    buyOrder: (order) => buyAlone(order, false),
    completeOrder: (orderId, fill) => activities.completeOrder(orderId, fill),
    joinPool: pool.joinPool,
    awaitSettlement: pool.awaitSettlement,
  };
  /** Whether this worker's debits leave pooled orders unsignalled, watching them for a while instead. */
  const watched = deps.settlements !== undefined;
  const activities = {
    /**
     * The debit (see services/orders.ts): refusals are permanent and carry the API error code. Once
     * it has committed, the same local activity goes on as far as it can (`afterDebit`): the order
     * bought alone and completed, or in its pool.
     */
    async debitOrder(
      input: OrderInput,
    ): Promise<Placement & { reviewTimeoutMs: number; after?: AfterDebit }> {
      const placement = await permanentFailures(() =>
        debitOrder(orm.em.fork(), input, {
          threshold: aggregationThreshold,
          maxTotal: deps.maxOrderTotal,
          fraud: deps.fraud,
          watched,
        }).catch((error: unknown) => {
          // A refusal is a normal outcome: one info line, no stack.
          if (error instanceof DomainError) {
            log.info('order refused', { orderId: input.orderId, code: error.code });
            deps.metrics?.ordersSettled.inc({ state: 'rejected', route: 'none' });
          }
          throw error;
        }),
      );
      const { placedNow, ...placed } = placement;
      const action = placed.route === 'review' ? 'hold' : placed.route === 'rejected' ? 'reject' : 'allow';
      if (action === 'reject') {
        log.info('order refused', { orderId: input.orderId, code: 'order_rejected', rule: placed.rule });
      }
      // A retry that finds the order placed decided nothing new.
      if (placedNow) {
        deps.metrics?.fraudDecisions.inc({ action, rule: placed.rule ?? 'none' });
        if (action === 'reject') deps.metrics?.ordersSettled.inc({ state: 'rejected', route: 'none' });
      }
      const after = await afterDebit(placed, stepsAfterDebit, (message, error) =>
        log.info(message, { orderId: input.orderId, error: String(error) }),
      );
      return { ...placed, reviewTimeoutMs: deps.reviewTimeoutMs, ...(after && { after }) };
    },

    /** Refused (`reviewer_not_admin`, permanent) unless the reviewer is an admin in Postgres. */
    async approveHeldOrder(orderId: number, adminId: number): Promise<Placement> {
      return permanentFailures(() => approveHeldOrder(orm.em.fork(), orderId, adminId, aggregationThreshold));
    },

    async rejectHeldOrder(orderId: number, adminId: number | null, reason: string): Promise<OrderView> {
      return permanentFailures(async () => {
        recordSettled(deps.metrics, await rejectHeldOrder(orm.em.fork(), orderId, adminId, reason));
        return (await findOrder(orm.em.fork(), orderId))!;
      });
    },

    /** Buys one order alone; the order id is the client order id, so a retry never buys twice. */
    async buyOrder(order: Pick<OrderView, 'id' | 'crypto' | 'total_price'>): Promise<Fill> {
      return buyAlone(order, true);
    },

    /** What the exchange bought under a client order id, if anything (undefined when it did not). */
    async findFill(clientOrderId: string, crypto: string): Promise<Fill | undefined> {
      return countExchangeErrors(deps, 'find_fill', () =>
        exchange.findFill(clientOrderId, crypto, afterEveryAttempt()),
      );
    },

    /** Completes the order with its fill and the house entries; a malformed fill fails for good. */
    async completeOrder(orderId: number, fill: Fill): Promise<void> {
      recordSettled(deps.metrics, await permanentFailures(() => completeOrder(orm.em.fork(), orderId, fill)));
    },

    /** Cancels and refunds a waiting order; refused (`order_not_cancellable`, permanent) otherwise. */
    async cancelOrder(orderId: number, canceller: Canceller): Promise<OrderView> {
      return permanentFailures(async () => {
        const { order, settled } = await cancelOrder(orm.em.fork(), orderId, canceller);
        recordSettled(deps.metrics, settled);
        return order;
      });
    },

    async refundOrder(orderId: number, reason: string): Promise<void> {
      recordSettled(deps.metrics, await permanentFailures(() => refundOrder(orm.em.fork(), orderId, reason)));
    },
  };
  return activities;
}
