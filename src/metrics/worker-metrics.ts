import { createServer, type Server } from 'node:http';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

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
  return { registry, fraudDecisions, exchangeBuys };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

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
