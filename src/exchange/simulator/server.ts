import Fastify, { type FastifyInstance } from 'fastify';
import { accountRoutes } from './account-routes.js';
import { adminRoutes } from './admin-routes.js';
import type { SimulatorConfig } from './config.js';
import { BinanceError, errors } from './errors.js';
import { FaultInjector } from './faults.js';
import { publicRoutes } from './public-routes.js';
import { SimulatorState } from './state.js';
import { OneLinePerRequest } from '../../logging/request-log.js';

export interface SimulatorOptions {
  /** Source of randomness for faults and price drift; defaults to Math.random. */
  random?: () => number;
}

/**
 * An offline exchange that speaks the part of Binance's spot REST API (`/api/v3`) that ccxt's binance
 * class uses to list markets, read prices and the balance, place market buys and look them up.
 */
export function buildSimulator(config: SimulatorConfig, options: SimulatorOptions = {}): FastifyInstance {
  const random = options.random ?? Math.random;
  const state = new SimulatorState(config);
  const faults = new FaultInjector(
    { failureRate: config.failureRate, dropRate: config.dropRate, latencyMs: config.latencyMs },
    random,
  );
  const app = Fastify({ logger: { level: config.logLevel }, logController: new OneLinePerRequest() });

  // Signed requests are verified against the body exactly as sent, so it is kept as text.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );

  // Every error, including Fastify's own (bad JSON, wrong content type), answers in Binance's shape.
  app.setErrorHandler((error: BinanceError | { statusCode?: number; message: string }, request, reply) => {
    if (error instanceof BinanceError) return reply.code(error.status).send(error.body());
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error(error);
      return reply.code(500).send({ code: -1001, msg: 'Internal error; unable to process your request.' });
    }
    return reply.code(status).send({ code: -1102, msg: error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const error = errors.notFound(`${request.method} ${request.url.split('?')[0]}`);
    return reply.code(error.status).send(error.body());
  });

  if (config.priceDrift > 0) {
    const timer = setInterval(() => state.drift(config.priceDrift, random), config.priceTickMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }

  const ctx = { config, state, faults };
  publicRoutes(app, ctx);
  accountRoutes(app, ctx);
  adminRoutes(app, ctx);
  return app;
}
