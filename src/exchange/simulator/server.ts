import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { formatUsd, parseUsd } from '../../domain/money.js';
import type { SimulatorConfig } from './config.js';
import { FaultInjector } from './faults.js';
import { OrderBook } from './state.js';

export interface SimulatorOptions {
  /** Source of randomness for faults and price drift; defaults to Math.random. */
  random?: () => number;
}

const orderBody = z.strictObject({
  client_order_id: z.string().min(1).max(64),
  crypto: z.string().min(1),
  notional: z.string(),
});

const faultsBody = z.strictObject({
  failure_rate: z.number().min(0).max(1).optional(),
  drop_rate: z.number().min(0).max(1).optional(),
  latency_ms: z.number().int().nonnegative().optional(),
});

const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message } });

export function buildSimulator(config: SimulatorConfig, options: SimulatorOptions = {}): FastifyInstance {
  const random = options.random ?? Math.random;
  const book = new OrderBook(config.prices, config.minNotional);
  const faults = new FaultInjector(
    { failureRate: config.failureRate, dropRate: config.dropRate, latencyMs: config.latencyMs },
    random,
  );
  const app = Fastify({ logger: { level: config.logLevel } });

  // Every error, including Fastify's own (bad JSON, wrong content type), answers in one shape.
  app.setErrorHandler((error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error(error);
    return fail(reply, status, status >= 500 ? 'internal' : 'bad_request', error.message);
  });
  app.setNotFoundHandler((request, reply) =>
    fail(reply, 404, 'not_found', `${request.method} ${request.url}`),
  );

  if (config.priceDrift > 0) {
    const timer = setInterval(() => book.drift(config.priceDrift, random), config.priceTickMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/prices', async () => book.quotes());
  app.get('/orders', async () => book.allFills());
  app.get<{ Params: { clientOrderId: string } }>('/orders/:clientOrderId', async (request, reply) => {
    const fill = book.fill(request.params.clientOrderId);
    return fill ?? fail(reply, 404, 'not_found', `no order ${request.params.clientOrderId}`);
  });

  app.post('/orders', async (request, reply) => {
    const body = orderBody.safeParse(request.body);
    if (!body.success) return fail(reply, 400, 'bad_request', z.prettifyError(body.error));
    const notional = parseUsd(body.data.notional);
    if (!notional.ok) return fail(reply, 400, 'bad_request', `notional ${notional.message}`);

    await faults.delay();
    if (faults.shouldFail()) return fail(reply, 503, 'unavailable', 'injected failure');

    const { client_order_id: clientOrderId, crypto } = body.data;
    const outcome = book.buy(clientOrderId, crypto, notional.value);
    switch (outcome.kind) {
      case 'unknown_crypto':
        return fail(reply, 400, 'unknown_crypto', `${crypto} is not traded here`);
      case 'min_notional':
        return fail(reply, 422, 'min_notional', `notional must be at least ${formatUsd(config.minNotional)}`);
      case 'conflict':
        return fail(
          reply,
          409,
          'idempotency_conflict',
          `${clientOrderId} was already used for different terms`,
        );
      case 'filled':
        if (faults.shouldDrop()) {
          // The buy stands; only the answer is lost, which the caller cannot tell from a failure.
          request.log.warn({ clientOrderId }, 'dropping response after executing');
          reply.hijack();
          request.raw.socket.destroy();
          return reply;
        }
        return reply.code(outcome.created ? 201 : 200).send(outcome.fill);
    }
  });

  app.put('/admin/faults', async (request, reply) => {
    const body = faultsBody.safeParse(request.body);
    if (!body.success) return fail(reply, 400, 'bad_request', z.prettifyError(body.error));
    const { failure_rate: failureRate, drop_rate: dropRate, latency_ms: latencyMs } = body.data;
    const now = faults.update({
      ...(failureRate !== undefined && { failureRate }),
      ...(dropRate !== undefined && { dropRate }),
      ...(latencyMs !== undefined && { latencyMs }),
    });
    return { failure_rate: now.failureRate, drop_rate: now.dropRate, latency_ms: now.latencyMs };
  });

  return app;
}
