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
import { AppError } from '../../domain/errors.js';

type Limit = { max: number; windowMs: number };
type Key = (request: FastifyRequest) => string;

const tooMany = (reply: FastifyReply, retryAfterSeconds: number) => {
  reply.header('retry-after', retryAfterSeconds);
  return new AppError(429, 'rate_limited', `too many requests; retry in ${retryAfterSeconds} s`);
};

/**
 * Every limit of the API, in one place. Limits on authenticated routes key on the user, the others
 * on the client IP; failed logins key on the account. Counters live in Redis when REDIS_URL is set
 * (shared by every API process), in memory otherwise.
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
  // Guessing defences: an account (login) or a user (one-time codes) that used up its failures is
  // refused before the secret is even checked. Failures are counted once the response is known.
  const failureGuard = (key: Key, failed: (reply: FastifyReply) => boolean) => {
    const count = counter(env.RATE_LIMIT_LOGIN_FAILURES, key);
    const check: preHandlerAsyncHookHandler = async (request, reply) => {
      const status = await count(request, { increment: false });
      if (!status.isAllowed && status.remaining === 0) throw tooMany(reply, status.ttlInSeconds);
    };
    const record = async (request: FastifyRequest, reply: FastifyReply) => {
      if (failed(reply)) await count(request);
    };
    return { check, record };
  };
  const loginFailures = failureGuard(
    (r) => `login-failures:${loginName(r)}`,
    (reply) => reply.statusCode === 401,
  );
  const codeFailures = failureGuard(byUser('otp-failures'), (reply) => reply.statusCode === 400);

  app.addHook('onRoute', (route: RouteOptions) => {
    const url = route.url;
    const hooks: preHandlerAsyncHookHandler[] = [];
    if (url.includes('/accounts/auth/')) hooks.push(authIp);
    if (url.endsWith('/accounts/auth/register/')) hooks.push(registerIp);
    const guard = url.endsWith('/accounts/auth/login/')
      ? loginFailures
      : /\/accounts\/totp\/(confirm|disable)\/$/.test(url)
        ? codeFailures
        : undefined;
    if (guard) route.onResponse = [guard.record, ...[route.onResponse ?? []].flat()];
    // Authenticated routes authenticate on onRequest, so `request.user` is known here.
    if (route.onRequest) hooks.push(everyUser);
    if (guard) hooks.push(guard.check);
    if (url.endsWith('/orders/') && [route.method].flat().includes('POST')) hooks.push(ordersUser);
    if (hooks.length) route.preHandler = [...hooks, ...[route.preHandler ?? []].flat()];
  });
}

function loginName(request: FastifyRequest): string {
  const body = request.body as { username?: unknown } | undefined;
  return typeof body?.username === 'string' ? body.username.toLowerCase() : `ip:${request.ip}`;
}
