import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import fastifyHelmet from '@fastify/helmet';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ApiDeps } from './deps.js';
import { docsEnabled, passwordHashCost } from '../config/env.js';
import { setPasswordHashCost } from '../services/accounts.js';
import jsonBody from './json-body.js';
import { registerErrorHandler } from './plugins/error-handler.js';
import auth from './plugins/auth.js';
import docs from './plugins/docs.js';
import entityManager from './plugins/entity-manager.js';
import { clientErrorHandler } from './plugins/client-error.js';
import requestIds, { requestId } from './plugins/request-id.js';
import { OneLinePerRequest } from '../logging/request-log.js';
import rateLimits from './plugins/rate-limit.js';
import metrics from './plugins/metrics.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { createTokenService } from './auth/tokens.js';
import { createAttempts } from './auth/attempts.js';
import { createLoginGuard, unguarded } from '../services/login-guard.js';
import { authRoutes } from './routes/auth.js';
import { walletRoutes } from './routes/wallet.js';
import { holdingRoutes } from './routes/holdings.js';
import { cryptoCurrencyRoutes } from './routes/crypto-currencies.js';
import { transactionRoutes } from './routes/transactions.js';
import { healthRoutes } from './routes/health.js';
import { orderRoutes } from './routes/orders.js';
import { quoteRoutes } from './routes/quotes.js';
import { adminRoutes } from './routes/admin.js';
import { totpRoutes } from './routes/totp.js';
import { orderEventRoutes } from './routes/order-events.js';
import { OrderEventHub } from './order-events/hub.js';
import { requireDatabaseUrl } from '../runtime/resources.js';
import { API_PREFIX } from './prefix.js';

export { API_PREFIX } from './prefix.js';

const errorHandler = fp(async (app) => registerErrorHandler(app), { name: 'error-handler' });

/** The versioned API under API_PREFIX: every resource's routes, none of them cacheable. */
const versionedApi: FastifyPluginAsync<ApiDeps> = async (api, { env, temporal, orm }) => {
  // Tokens, balances and ledgers are private and change with every write: no cache keeps them.
  api.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
  // Order events: the SSE streams, and the placement answers (the debit's event) of this process.
  const hub = new OrderEventHub({
    databaseUrl: requireDatabaseUrl(env),
    orm,
    log: api.log,
    maxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
    retentionMs: env.ORDER_EVENTS_RETENTION,
  });
  hub.start();
  // The streams end before the server closes (which waits for open requests), the listener after.
  api.addHook('preClose', async () => hub.closeStreams());
  api.addHook('onClose', async () => hub.stop());
  const tokens = createTokenService(api, env);
  const attempts = createAttempts(
    env.RATE_LIMIT_ENABLED
      ? createLoginGuard({ ...env.RATE_LIMIT_LOGIN_FAILURES, maxLockMs: env.RATE_LIMIT_LOGIN_MAX_LOCK })
      : unguarded,
  );
  await api.register(authRoutes, { tokens, attempts });
  await api.register(walletRoutes, { env });
  await api.register(holdingRoutes);
  await api.register(cryptoCurrencyRoutes);
  await api.register(transactionRoutes);
  await api.register(totpRoutes, { tokens, attempts });
  await api.register(orderRoutes, {
    temporal,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    placementTimeoutMs: env.PLACEMENT_TIMEOUT,
    rpcTimeoutMs: env.TEMPORAL_RPC_TIMEOUT,
    maxTotal: env.MAX_AMOUNT,
    hub,
  });
  await api.register(quoteRoutes, { env });
  await api.register(adminRoutes, { env, temporal });

  await api.register(orderEventRoutes, {
    hub,
    orm,
    heartbeatMs: env.SSE_HEARTBEAT_INTERVAL,
    maxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
  });
};

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const { env, orm } = deps;
  setPasswordHashCost(passwordHashCost(env));
  const app = Fastify({
    logger:
      env.LOG_LEVEL === 'silent'
        ? false
        : {
            level: env.LOG_LEVEL,
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            ...(deps.logDestination && { stream: deps.logDestination }),
          },
    logController: new OneLinePerRequest(),
    genReqId: requestId,
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
  await app.register(requestIds);
  await app.register(jsonBody);
  await app.register(errorHandler);
  await app.register(metrics, {
    metrics: createApiMetrics(orm, deps.temporal, {
      cacheTtlMs: env.API_METRICS_CACHE_TTL,
      poolMaxWaitMs: env.AGGREGATION_MAX_WAIT,
      reviewTimeoutMs: env.FRAUD_REVIEW_TIMEOUT,
    }),
  });
  await app.register(entityManager, { orm });

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
  await app.register(auth, { env });
  await app.register(rateLimits, { env });
  if (docsEnabled(env)) await app.register(docs, { prefix: API_PREFIX });
  await app.register(healthRoutes, deps);
  await app.register(versionedApi, { ...deps, prefix: API_PREFIX });
  return app;
}
