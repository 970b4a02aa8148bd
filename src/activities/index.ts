import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Exchange } from '../exchange/exchange.js';
import type { Cents } from '../domain/money.js';
import type { FraudConfig } from '../domain/fraud.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { createOrderActivities } from './orders.js';
import { createPoolActivities } from './pool.js';
import type { SettlementWatch } from './settlements.js';
import { createPriceActivities } from './prices.js';

export interface ActivityDeps {
  orm: MikroORM;
  exchange: Exchange;
  /** For signal-with-start of pool workflows. */
  temporal: Client;
  taskQueue: string;
  aggregationThreshold: Cents;
  aggregationMaxWaitMs: number;
  /** How long a pooled order may wait for others to share its signal to the pool (default 0). */
  poolFeedLingerMs?: number;
  /**
   * Watches the order events for pooled orders' settlements: with it, the debit's activity waits a
   * while (POOL_SETTLE_WAIT) for its pooled order's batch, and the pool signals only the workflows of
   * orders it did not see settled. Without it every pooled order's workflow waits for the signal.
   */
  settlements?: SettlementWatch;
  maxOrderTotal: Cents;
  fraud: FraudConfig;
  /** How long a held order waits for an admin before it is rejected and refunded. */
  reviewTimeoutMs: number;
  metrics?: WorkerMetrics;
}

/** Every activity, built from its dependencies (tests pass real ones pointed at test servers). */
export function createActivities(deps: ActivityDeps) {
  const { activities: pool, steps } = createPoolActivities(deps);
  return {
    ...createOrderActivities(deps, steps),
    ...pool,
    ...createPriceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
