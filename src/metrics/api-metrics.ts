import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { readPoolView } from '../temporal/pool-view.js';
import { readUsd } from '../domain/money.js';
import { cachedFor } from './cached.js';
import { countByState, countRefunds, oldestHeldOrderAt } from '../services/metrics.js';
import { listActiveCryptos } from '../services/cryptos.js';

interface PoolFigures {
  orders: number;
  totalCents: number;
  /** When its oldest order joined (seconds since the epoch); undefined when it is empty. */
  oldestAt?: number;
}

interface BusinessState {
  orders: Map<string, number>;
  batches: Map<string, number>;
  refunds: number;
  pools: Map<string, PoolFigures>;
  oldestHeldAt?: number;
}

async function readBusinessState(orm: MikroORM, temporal: Client): Promise<BusinessState> {
  const em = orm.em.fork();
  const [orders, batches, refunds, cryptos, oldestHeldAt] = await Promise.all([
    countByState(em, 'orders'),
    countByState(em, 'batches'),
    countRefunds(em),
    listActiveCryptos(em),
    oldestHeldOrderAt(em),
  ]);
  const pools = new Map(
    await Promise.all(
      cryptos.map(async ({ name }): Promise<[string, PoolFigures]> => {
        // A pool that cannot be read counts as empty here; the admin view says it failed.
        const view = await readPoolView(temporal, name, 1_000).catch(() => undefined);
        return [
          name,
          view
            ? {
                orders: view.orders.length,
                totalCents: Number(readUsd(view.total)),
                oldestAt: oldestAddedAt(view.orders),
              }
            : { orders: 0, totalCents: 0 },
        ];
      }),
    ),
  );
  return { orders, batches, refunds, pools, oldestHeldAt };
}

const oldestAddedAt = (orders: { added_at: string }[]): number | undefined =>
  orders.length === 0 ? undefined : Math.min(...orders.map((o) => Date.parse(o.added_at))) / 1000;

export interface ApiMetricsOptions {
  cacheTtlMs: number;
  /** AGGREGATION_MAX_WAIT and FRAUD_REVIEW_TIMEOUT, exported so alerts follow the configuration. */
  poolMaxWaitMs: number;
  reviewTimeoutMs: number;
}

/**
 * The API's Prometheus metrics. Counters and histograms are recorded as requests happen; the
 * business gauges (orders by state, pools) are read from Postgres and the pool workflows at scrape
 * time (at most once per `cacheTtlMs`), so every API process reports the same truth.
 */
export function createApiMetrics(orm: MikroORM, temporal: Client, options: ApiMetricsOptions) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'api_' });

  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const placement = new Histogram({
    name: 'order_placement_duration_seconds',
    help: 'POST orders/ latency: until the debit has committed (or been refused)',
    labelNames: ['status'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests refused with 429, by route',
    labelNames: ['route'],
    registers: [registry],
  });

  // One read of every business figure per TTL, shared by all gauges and concurrent scrapes, so
  // a burst of scrapes costs one round of SQL and Temporal queries instead of one per scrape.
  const business = cachedFor(options.cacheTtlMs, () => readBusinessState(orm, temporal));

  const byState = (name: 'orders' | 'batches', help: string) =>
    new Gauge({
      name,
      help,
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const counts = (await business())[name];
        this.reset();
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
  byState('orders', 'Orders by state');
  byState('batches', 'Exchange batches by state');
  new Gauge({
    name: 'refunds',
    help: 'Refund ledger entries',
    registers: [registry],
    async collect() {
      this.set((await business()).refunds);
    },
  });
  const poolGauge = (name: string, help: string, pick: (pool: PoolFigures) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['crypto'],
      registers: [registry],
      async collect() {
        const pools = (await business()).pools;
        this.reset();
        for (const [crypto, pool] of pools) {
          const value = pick(pool);
          if (value !== undefined) this.set({ crypto }, value);
        }
      },
    });
  poolGauge('pool_orders', 'Orders waiting in the pool of each crypto', (p) => p.orders);
  // Whole cents: a metric value is a float, so it carries an integer, never dollars.
  poolGauge('pool_total_cents', 'US cents waiting in the pool of each crypto', (p) => p.totalCents);
  // Absolute times rather than ages: a cached read stays right, and PromQL subtracts it from time().
  poolGauge(
    'pool_oldest_order_timestamp_seconds',
    'When the oldest order waiting in the pool of each crypto joined it (absent when the pool is empty)',
    (p) => p.oldestAt,
  );
  new Gauge({
    name: 'orders_held_oldest_timestamp_seconds',
    // A gauge without labels always has a value: 0 stands for "none" (PromQL: `> 0` drops it).
    help: 'When the longest-waiting held order was placed; 0 when none waits for review',
    registers: [registry],
    async collect() {
      const at = (await business()).oldestHeldAt;
      this.reset();
      if (at !== undefined) this.set(at);
    },
  });
  const setting = (name: string, help: string, ms: number) =>
    new Gauge({ name, help, registers: [registry] }).set(ms / 1000);
  setting('pool_max_wait_seconds', 'AGGREGATION_MAX_WAIT: a pool this old is bought', options.poolMaxWaitMs);
  setting(
    'order_review_timeout_seconds',
    'FRAUD_REVIEW_TIMEOUT: a held order not reviewed by then is refunded',
    options.reviewTimeoutMs,
  );

  return { registry, httpDuration, placement, rateLimited };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** Serves the registry at /metrics on its own port, away from the public API. */
export function serveApiMetrics(metrics: ApiMetrics, port: number, host: string): Server {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics' || request.method !== 'GET') {
      response.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => response.writeHead(500).end('# metrics unavailable\n'),
    );
  });
  return server.listen(port, host);
}
