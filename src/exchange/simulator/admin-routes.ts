/** Control and witness endpoints outside Binance's namespace, for tests, the chaos run and benchmarks. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { formatUsd, parseUsd, type Cents } from '../../domain/money.js';
import type { SimulatorContext } from './context.js';
import { BinanceError, errors } from './errors.js';

const faultsBody = z.strictObject({
  failure_rate: z.number().min(0).max(1).optional(),
  drop_rate: z.number().min(0).max(1).optional(),
  latency_ms: z.number().int().nonnegative().optional(),
});

const pricesBody = z.record(z.string(), z.string());

const badBody = (message: string) => new BinanceError(400, -1102, message);

export function adminRoutes(app: FastifyInstance, { state, faults }: SimulatorContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.put('/admin/faults', async (request) => {
    const body = faultsBody.safeParse(request.body);
    if (!body.success) throw badBody(z.prettifyError(body.error));
    const { failure_rate: failureRate, drop_rate: dropRate, latency_ms: latencyMs } = body.data;
    const now = faults.update({
      ...(failureRate !== undefined && { failureRate }),
      ...(dropRate !== undefined && { dropRate }),
      ...(latencyMs !== undefined && { latencyMs }),
    });
    return { failure_rate: now.failureRate, drop_rate: now.dropRate, latency_ms: now.latencyMs };
  });

  /** Every executed order, in execution order: how tests and the chaos run count purchases. */
  app.get('/admin/orders', async () => state.executed());

  /** {"BTC": "51000.00"}: sets prices (2 places), all or nothing; answers every price. */
  app.put('/admin/prices', async (request) => {
    const body = pricesBody.safeParse(request.body);
    if (!body.success) throw badBody(z.prettifyError(body.error));
    const updates: [string, Cents][] = [];
    for (const [crypto, text] of Object.entries(body.data)) {
      const price = parseUsd(text);
      if (!price.ok) throw badBody(`${crypto}: price ${price.message}`);
      if (!state.market(`${crypto}${state.quoteAsset}`)) throw errors.invalidSymbol();
      updates.push([crypto, price.value]);
    }
    for (const [crypto, price] of updates) state.setPrice(crypto, price);
    return Object.fromEntries(state.markets().map((m) => [m.base, formatUsd(state.price(m.base))]));
  });
}
