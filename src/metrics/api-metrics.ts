import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { poolQuery, poolWorkflowId } from '../workflows/definitions.js';
import { readUsd } from '../domain/money.js';

/**
 * The API's Prometheus metrics. Counters and histograms are recorded as requests happen; the
 * business gauges (orders by state, pools) are read from Postgres and the pool workflows at scrape
 * time, so every API process reports the same truth.
 */
export function createApiMetrics(orm: MikroORM, temporal: Client) {
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

  const countByState = (name: 'orders' | 'batches', help: string) =>
    new Gauge({
      name,
      help,
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const rows = await orm.em
          .fork()
          .execute<{ state: string; n: string }[]>(`select state, count(*) as n from ${name} group by state`);
        this.reset();
        for (const r of rows) this.set({ state: r.state }, Number(r.n));
      },
    });
  countByState('orders', 'Orders by state');
  countByState('batches', 'Exchange batches by state');
  new Gauge({
    name: 'refunds',
    help: 'Refund ledger entries',
    registers: [registry],
    async collect() {
      const [row] = await orm.em
        .fork()
        .execute<{ n: string }[]>("select count(*) as n from transactions where type = 'refund'");
      this.set(Number(row?.n ?? 0));
    },
  });
  const poolGauge = (
    name: string,
    help: string,
    pick: (view: { total: string; orders: unknown[] }) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['crypto'],
      registers: [registry],
      async collect() {
        const cryptos = await orm.em
          .fork()
          .execute<{ name: string }[]>('select name from crypto_currencies where active');
        this.reset();
        await Promise.all(
          cryptos.map(async ({ name }) => {
            const view = await temporal
              .withDeadline(Date.now() + 1_000, () =>
                temporal.workflow.getHandle(poolWorkflowId(name)).query(poolQuery),
              )
              .catch(() => undefined); // no pool yet
            this.set({ crypto: name }, view ? pick(view) : 0);
          }),
        );
      },
    });
  poolGauge('pool_orders', 'Orders waiting in the pool of each crypto', (v) => v.orders.length);
  // Whole cents: a metric value is a float, so it carries an integer, never dollars.
  poolGauge('pool_total_cents', 'US cents waiting in the pool of each crypto', (v) =>
    Number(readUsd(v.total)),
  );

  return { registry, httpDuration, placement, rateLimited };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
