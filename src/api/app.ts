import Fastify, { type FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import type { EntityManager } from '@mikro-orm/postgresql';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ApiDeps } from './deps.js';
import { registerJsonBodyParser } from './json-body.js';
import { registerErrorHandler } from './plugins/error-handler.js';
import { registerAuth } from './plugins/auth.js';
import { registerDocs } from './plugins/docs.js';
import { registerRateLimits } from './plugins/rate-limit.js';
import { registerMetrics } from './plugins/metrics.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { createTokenService } from './auth/tokens.js';
import { authRoutes } from './routes/auth.js';
import { walletRoutes } from './routes/wallet.js';
import { cryptoCurrencyRoutes } from './routes/crypto-currencies.js';
import { transactionRoutes } from './routes/transactions.js';
import { healthRoutes } from './routes/health.js';
import { orderRoutes } from './routes/orders.js';
import { adminRoutes } from './routes/admin.js';
import { totpRoutes } from './routes/totp.js';
import { API_PREFIX } from './prefix.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** An EntityManager fork of its own for this request. */
    em: EntityManager;
  }
}

export { API_PREFIX } from './prefix.js';

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const { env, orm } = deps;
  const app = Fastify({
    logger:
      env.LOG_LEVEL === 'silent'
        ? false
        : { level: env.LOG_LEVEL, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    trustProxy: env.TRUST_PROXY,
    bodyLimit: 64 * 1024,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerJsonBodyParser(app);
  registerErrorHandler(app);
  registerMetrics(app, createApiMetrics(orm, deps.temporal));

  app.decorateRequest('em', null as unknown as EntityManager);
  app.addHook('onRequest', async (request) => {
    request.em = orm.em.fork();
  });

  // The API serves JSON only; a content security policy would only get in the docs pages' way.
  await app.register(fastifyHelmet, { contentSecurityPolicy: false });
  await registerAuth(app, env);
  await registerRateLimits(app, env);
  await registerDocs(app, API_PREFIX);
  await healthRoutes(app, deps);

  const tokens = createTokenService(app, env);
  await app.register(
    async (api) => {
      await authRoutes(api, { tokens });
      await walletRoutes(api, { env });
      await cryptoCurrencyRoutes(api);
      await transactionRoutes(api);
      await totpRoutes(api);
      await orderRoutes(api, {
        temporal: deps.temporal,
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        placementTimeoutMs: env.PLACEMENT_TIMEOUT,
        rpcTimeoutMs: env.TEMPORAL_RPC_TIMEOUT,
      });
      await adminRoutes(api, { env, temporal: deps.temporal });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
