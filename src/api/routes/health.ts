import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { pingDatabase } from '../../services/health.js';

/** Liveness says the process answers; readiness says its dependencies do too. */
export const healthRoutes: FastifyPluginAsync<ApiDeps> = async (app, { orm, temporal, env }) => {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const check = async (probe: () => Promise<unknown>) => {
      try {
        await Promise.race([probe(), new Promise((_, reject) => setTimeout(reject, 2_000).unref())]);
        return 'ok';
      } catch {
        return 'unavailable';
      }
    };
    const [postgres, temporalStatus] = await Promise.all([
      check(() => pingDatabase(orm.em.fork())),
      // Under a deadline, so gRPC gives up rather than retrying into the next probe.
      check(() =>
        temporal.withDeadline(Date.now() + env.TEMPORAL_RPC_TIMEOUT, () =>
          temporal.workflowService.getSystemInfo({}),
        ),
      ),
    ]);
    const ready = postgres === 'ok' && temporalStatus === 'ok';
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', postgres, temporal: temporalStatus });
  });
};
