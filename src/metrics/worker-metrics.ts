import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SettledOrder } from '../services/settled.js';

/** The worker's own metrics; the Temporal SDK's runtime metrics are appended at scrape time. */
export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'worker_' });
  const fraudDecisions = new Counter({
    name: 'fraud_decisions_total',
    help: 'Fraud decisions on placed orders, by action and rule',
    labelNames: ['action', 'rule'],
    registers: [registry],
  });
  const exchangeBuys = new Counter({
    name: 'exchange_buys_total',
    help: 'Exchange purchases by kind (order, batch) and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  const exchangeErrors = new Counter({
    name: 'exchange_errors_total',
    help: 'Failed exchange calls by call (buy, find_fill, markets), kind (rejected, unavailable, unexpected) and error class',
    labelNames: ['call', 'kind', 'error'],
    registers: [registry],
  });
  const ordersSettled = new Counter({
    name: 'orders_settled_total',
    help: 'Orders that reached a final state (completed, failed, rejected, cancelled), by the route they took (alone, pooled, review, none)',
    labelNames: ['state', 'route'],
    registers: [registry],
  });
  const settleDuration = new Histogram({
    name: 'order_settle_duration_seconds',
    help: 'From an order’s creation (its debit) to its final state, completed, failed or cancelled',
    labelNames: ['state', 'route'],
    // Alone: seconds; pooled: up to AGGREGATION_MAX_WAIT (15m); held: up to FRAUD_REVIEW_TIMEOUT (24h).
    buckets: [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 900, 1200, 1800, 3600, 21600, 86400],
    registers: [registry],
  });
  const refunds = new Counter({
    name: 'order_refunds_total',
    help: 'Orders refunded because they failed after their debit (not cancellations), by the route they were on',
    labelNames: ['route'],
    registers: [registry],
  });
  const batchesSettled = new Counter({
    name: 'batches_settled_total',
    help: 'Pool batches that reached a final state (completed, failed)',
    labelNames: ['state'],
    registers: [registry],
  });
  const reconcileFailures = new Gauge({
    name: 'reconcile_failures',
    help: 'Wallets and purchases that disagreed with their ledger or the house account at the last reconcile check',
    registers: [registry],
  });
  const reconcileLastSuccess = new Gauge({
    name: 'reconcile_last_success_timestamp_seconds',
    help: 'When the reconcile check last ran and found everything in agreement; 0 until it has',
    registers: [registry],
  });
  const reconcileRuns = new Counter({
    name: 'reconcile_runs_total',
    help: 'Reconcile checks by outcome: ok, failed (found disagreements), error (could not run)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const reconcileDuration = new Gauge({
    name: 'reconcile_last_duration_seconds',
    help: 'How long the last reconcile check took',
    registers: [registry],
  });
  return {
    registry,
    fraudDecisions,
    exchangeBuys,
    exchangeErrors,
    ordersSettled,
    settleDuration,
    refunds,
    batchesSettled,
    reconcileFailures,
    reconcileLastSuccess,
    reconcileRuns,
    reconcileDuration,
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** Counts orders a committed transaction settled: their outcome, how long it took, and refunds. */
export function recordSettled(
  metrics: WorkerMetrics | undefined,
  settled: SettledOrder | SettledOrder[] | undefined,
): void {
  if (!metrics || !settled) return;
  for (const { state, route, seconds } of Array.isArray(settled) ? settled : [settled]) {
    metrics.ordersSettled.inc({ state, route });
    metrics.settleDuration.observe({ state, route }, seconds);
    // A cancellation is refunded too, but asked for: it is no sign of purchases failing.
    if (state === 'failed') metrics.refunds.inc({ route });
  }
}

/**
 * Serves /metrics: ours, then the SDK's (the Temporal core exports them on `sdkMetricsUrl`).
 */
export function serveWorkerMetrics(
  metrics: WorkerMetrics,
  port: number,
  host: string,
  sdkMetricsUrl: string,
): Server {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    void (async () => {
      const ours = await metrics.registry.metrics();
      const sdk = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(1_000) })
        .then((r) => r.text())
        .catch(() => '# Temporal SDK metrics unavailable\n');
      response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(`${ours}\n${sdk}`);
    })();
  });
  return server.listen(port, host);
}
