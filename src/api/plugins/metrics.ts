import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiMetrics } from '../../metrics/api-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The API's registry; served on API_METRICS_PORT by main.ts, never on the public port. */
    metrics: ApiMetrics;
  }
  interface FastifyContextConfig {
    /** Also time the route in a histogram of its own (order placement, with its 201/202/503 split). */
    metric?: 'placement';
  }
}

/** Records every request into the API's metrics. */
async function metrics(app: FastifyInstance, { metrics }: { metrics: ApiMetrics }): Promise<void> {
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    const status = String(reply.statusCode);
    metrics.httpDuration.observe({ method: request.method, route, status }, seconds);
    if (request.routeOptions.config?.metric === 'placement') metrics.placement.observe({ status }, seconds);
    if (reply.statusCode === 429) metrics.rateLimited.inc({ route });
  });
}

export default fp(metrics, { name: 'metrics', fastify: '5.x' });
