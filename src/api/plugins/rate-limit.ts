import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import fastifyRateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { Env } from '../../config/env.js';
import { rateLimited } from '../../domain/errors.js';

/**
 * The named limits a route can ask for with `config: { limits: [...] }`, on top of the per-user
 * limit every route with `config.auth` gets: `auth` and `register` count per client IP, `orders`
 * and `quotes` per user.
 */
export type LimitName = 'auth' | 'register' | 'orders' | 'quotes';

declare module 'fastify' {
  interface FastifyContextConfig {
    limits?: LimitName[];
  }
}

type Limit = { max: number; windowMs: number };
type Key = (request: FastifyRequest) => string;

export const tooMany = (reply: FastifyReply, retryAfterSeconds: number) => {
  reply.header('retry-after', retryAfterSeconds);
  return rateLimited(retryAfterSeconds);
};

/**
 * The request limits of the API, in one place. Limits on authenticated routes key on the user, the
 * others on the client IP. Counters live in Redis when REDIS_URL is set (shared by every API
 * process), in memory otherwise. Sign-in attempts are limited separately, in Postgres (see
 * `api/auth/attempts.ts`), because they must be counted before the secret is checked.
 */
async function rateLimits(app: FastifyInstance, { env }: { env: Env }): Promise<void> {
  if (!env.RATE_LIMIT_ENABLED) return;
  const redis = env.REDIS_URL
    ? new Redis(env.REDIS_URL, { connectTimeout: 1_000, maxRetriesPerRequest: 1 })
    : undefined;
  if (redis) app.addHook('onClose', async () => void (await redis.quit()));
  await app.register(fastifyRateLimit, { global: false, redis, nameSpace: env.RATE_LIMIT_NAMESPACE });

  // The plugin's route hooks run only once per request, so several limits on one route each use
  // a limiter of their own.
  const enforce = ({ max, windowMs }: Limit, keyGenerator: Key): preHandlerAsyncHookHandler => {
    const count = app.createRateLimit({ max, timeWindow: windowMs, keyGenerator });
    return async (request, reply) => {
      const status = await count(request);
      if (!status.isAllowed && status.isExceeded) throw tooMany(reply, status.ttlInSeconds);
    };
  };
  const byIp = (name: string) => (request: FastifyRequest) => `${name}:${request.ip}`;
  const byUser = (name: string) => (request: FastifyRequest) =>
    `${name}:${request.user?.id ?? `ip:${request.ip}`}`;

  // In the order they count: the IP limits first, then the user's, then the route's own.
  const perIp: Partial<Record<LimitName, preHandlerAsyncHookHandler>> = {
    auth: enforce(env.RATE_LIMIT_AUTH_IP, byIp('auth')),
    register: enforce(env.RATE_LIMIT_REGISTER_IP, byIp('register')),
  };
  const everyUser = enforce(env.RATE_LIMIT_USER, byUser('user'));
  const perUser: Partial<Record<LimitName, preHandlerAsyncHookHandler>> = {
    orders: enforce(env.RATE_LIMIT_ORDERS_USER, byUser('orders')),
    quotes: enforce(env.RATE_LIMIT_QUOTES_USER, byUser('quotes')),
  };

  app.addHook('onRoute', (route) => {
    const named = route.config?.limits ?? [];
    const pick = (limits: typeof perIp) => named.flatMap((name) => limits[name] ?? []);
    // Authenticated routes authenticate on onRequest, so `request.user` is known here.
    const hooks = [...pick(perIp), ...(route.config?.auth ? [everyUser] : []), ...pick(perUser)];
    if (hooks.length) route.preHandler = [...hooks, ...[route.preHandler ?? []].flat()];
  });
}

export default fp(rateLimits, { name: 'rate-limits', fastify: '5.x', dependencies: ['auth'] });
