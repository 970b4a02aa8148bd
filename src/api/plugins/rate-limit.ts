import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteOptions,
  preHandlerAsyncHookHandler,
} from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { Env } from '../../config/env.js';
import { rateLimited } from '../../domain/errors.js';

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
export async function registerRateLimits(app: FastifyInstance, env: Env): Promise<void> {
  if (!env.RATE_LIMIT_ENABLED) return;
  const redis = env.REDIS_URL
    ? new Redis(env.REDIS_URL, { connectTimeout: 1_000, maxRetriesPerRequest: 1 })
    : undefined;
  if (redis) app.addHook('onClose', async () => void (await redis.quit()));
  await app.register(fastifyRateLimit, { global: false, redis, nameSpace: env.RATE_LIMIT_NAMESPACE });

  // The plugin's route hooks run only once per request, so several limits on one route each use
  // a limiter of their own.
  const counter = ({ max, windowMs }: Limit, keyGenerator: Key) =>
    app.createRateLimit({ max, timeWindow: windowMs, keyGenerator });
  const enforce = (limit: Limit, key: Key): preHandlerAsyncHookHandler => {
    const count = counter(limit, key);
    return async (request, reply) => {
      const status = await count(request);
      if (!status.isAllowed && status.isExceeded) throw tooMany(reply, status.ttlInSeconds);
    };
  };
  const byIp = (name: string) => (request: FastifyRequest) => `${name}:${request.ip}`;
  const byUser = (name: string) => (request: FastifyRequest) =>
    `${name}:${request.user?.id ?? `ip:${request.ip}`}`;

  const authIp = enforce(env.RATE_LIMIT_AUTH_IP, byIp('auth'));
  const registerIp = enforce(env.RATE_LIMIT_REGISTER_IP, byIp('register'));
  const ordersUser = enforce(env.RATE_LIMIT_ORDERS_USER, byUser('orders'));
  const everyUser = enforce(env.RATE_LIMIT_USER, byUser('user'));

  app.addHook('onRoute', (route: RouteOptions) => {
    const url = route.url;
    const hooks: preHandlerAsyncHookHandler[] = [];
    if (url.includes('/accounts/auth/')) hooks.push(authIp);
    if (url.endsWith('/accounts/auth/register/')) hooks.push(registerIp);
    // Authenticated routes authenticate on onRequest, so `request.user` is known here.
    if (route.onRequest) hooks.push(everyUser);
    if (url.endsWith('/orders/') && [route.method].flat().includes('POST')) hooks.push(ordersUser);
    if (hooks.length) route.preHandler = [...hooks, ...[route.preHandler ?? []].flat()];
  });
}
