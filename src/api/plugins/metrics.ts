import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../../metrics/api-metrics.js';

/** Records every request and serves the registry at /metrics (Prometheus text format). */
export function registerMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    const status = String(reply.statusCode);
    metrics.httpDuration.observe({ method: request.method, route, status }, seconds);
    if (request.method === 'POST' && route.endsWith('/orders/'))
      metrics.placement.observe({ status }, seconds);
    if (reply.statusCode === 429) metrics.rateLimited.inc({ route });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
