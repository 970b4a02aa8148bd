import Fastify, { type FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import type { EntityManager } from '@mikro-orm/postgresql';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ApiDeps } from './deps.js';
import { docsEnabled } from '../config/env.js';
import { registerJsonBodyParser } from './json-body.js';
import { registerErrorHandler } from './plugins/error-handler.js';
import { registerAuth } from './plugins/auth.js';
import { registerDocs } from './plugins/docs.js';
import { clientErrorHandler } from './plugins/client-error.js';
import { registerRateLimits } from './plugins/rate-limit.js';
import { registerMetrics } from './plugins/metrics.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { createTokenService } from './auth/tokens.js';
import { createAttempts } from './auth/attempts.js';
import { createLoginGuard, unguarded } from '../services/login-guard.js';
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
    // A client that announces a body and never sends it (or trickles its headers) is cut off.
    requestTimeout: env.HTTP_REQUEST_TIMEOUT,
    connectionTimeout: env.HTTP_CONNECTION_TIMEOUT,
    http: {
      // Node honours the request timeout only when the server is created with it (setting it
      // afterwards, as Fastify does, is not enough), and checks deadlines every
      // connectionsCheckingInterval (30 s by default), which bounds the overshoot.
      requestTimeout: env.HTTP_REQUEST_TIMEOUT,
      connectionsCheckingInterval: Math.min(1_000, env.HTTP_REQUEST_TIMEOUT || 1_000),
    },
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerJsonBodyParser(app);
  registerErrorHandler(app);
  registerMetrics(app, createApiMetrics(orm, deps.temporal, { cacheTtlMs: env.API_METRICS_CACHE_TTL }));

  app.decorateRequest('em', null as unknown as EntityManager);
  app.addHook('onRequest', async (request) => {
    request.em = orm.em.fork();
  });

  // The API answers JSON, which never needs to load anything; the docs pages set their own policy.
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  await registerAuth(app, env);
  await registerRateLimits(app, env);
  if (docsEnabled(env)) await registerDocs(app, API_PREFIX);
  await healthRoutes(app, deps);

  const tokens = createTokenService(app, env);
  const attempts = createAttempts(
    env.RATE_LIMIT_ENABLED
      ? createLoginGuard({ ...env.RATE_LIMIT_LOGIN_FAILURES, maxLockMs: env.RATE_LIMIT_LOGIN_MAX_LOCK })
      : unguarded,
  );
  await app.register(
    async (api) => {
      // Tokens, balances and ledgers are private and change with every write: no cache keeps them.
      api.addHook('onSend', async (_request, reply) => {
        if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      });
      await authRoutes(api, { tokens, attempts });
      await walletRoutes(api, { env });
      await cryptoCurrencyRoutes(api);
      await transactionRoutes(api);
      await totpRoutes(api, { tokens, attempts });
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
