import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../../metrics/api-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The API's registry; served on API_METRICS_PORT by main.ts, never on the public port. */
    metrics: ApiMetrics;
  }
}

/** Records every request into the API's metrics. */
export function registerMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    const status = String(reply.statusCode);
    metrics.httpDuration.observe({ method: request.method, route, status }, seconds);
    if (request.method === 'POST' && route.endsWith('/orders/'))
      metrics.placement.observe({ status }, seconds);
    if (reply.statusCode === 429) metrics.rateLimited.inc({ route });
  });
}
