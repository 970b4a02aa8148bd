import { z } from 'zod';
import { parseQuantity, parseUsd } from '../domain/money.js';
import {
  ExchangeRejectedError,
  ExchangeUnavailableError,
  type BuyRequest,
  type Exchange,
  type Fill,
  type PriceQuote,
} from './exchange.js';

export interface HttpExchangeOptions {
  baseUrl: string;
  timeoutMs: number;
}

const usd = z.string().refine((s) => parseUsd(s).ok, 'not a USD amount');
const quantity = z.string().refine((s) => parseQuantity(s).ok, 'not a quantity');

const pricesSchema = z.array(z.object({ crypto: z.string().min(1), price: usd }));

const fillSchema = z.object({
  exchange_order_id: z.string().min(1),
  client_order_id: z.string().min(1),
  crypto: z.string().min(1),
  notional: usd,
  price: usd,
  quantity,
});

const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

const cents = (text: string) => {
  const parsed = parseUsd(text);
  return parsed.ok ? parsed.value : undefined;
};

// Client errors that say "not now" rather than "never".
const TRANSIENT_CLIENT_STATUSES = new Set([408, 429]);

const toFill = (fill: z.infer<typeof fillSchema>): Fill => ({
  exchangeOrderId: fill.exchange_order_id,
  clientOrderId: fill.client_order_id,
  crypto: fill.crypto,
  notional: fill.notional,
  price: fill.price,
  quantity: fill.quantity,
});

export function createHttpExchange({ baseUrl, timeoutMs }: HttpExchangeOptions): Exchange {
  const base = baseUrl.replace(/\/+$/, '');

  /** One request, with every failure to get a usable answer turned into ExchangeUnavailableError. */
  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const what = `${method} ${path}`;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(base + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, json };
    } catch (err) {
      const reason = signal.aborted ? `timed out after ${timeoutMs}ms` : 'failed';
      throw new ExchangeUnavailableError(`exchange ${what} ${reason}`, { cause: err });
    }
  }

  function read<T>(
    schema: z.ZodType<T>,
    what: string,
    { status, json }: { status: number; json: unknown },
  ): T {
    if (status >= 400 && status < 500 && !TRANSIENT_CLIENT_STATUSES.has(status)) {
      const parsed = errorSchema.safeParse(json);
      throw parsed.success
        ? new ExchangeRejectedError(parsed.data.error.code, parsed.data.error.message)
        : new ExchangeRejectedError(`http_${status}`, `exchange ${what} answered ${status}`);
    }
    if (status < 200 || status >= 300)
      throw new ExchangeUnavailableError(`exchange ${what} answered ${status}`);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ExchangeUnavailableError(`exchange ${what} sent a malformed answer: ${parsed.error.message}`);
    }
    return parsed.data;
  }

  return {
    async prices(): Promise<PriceQuote[]> {
      return read(pricesSchema, 'GET /prices', await call('GET', '/prices'));
    },

    async buy(req: BuyRequest): Promise<Fill> {
      const answer = await call('POST', '/orders', {
        client_order_id: req.clientOrderId,
        crypto: req.crypto,
        notional: req.notional,
      });
      const fill = toFill(read(fillSchema, 'POST /orders', answer));
      const sameNotional = cents(fill.notional) === cents(req.notional);
      if (fill.clientOrderId !== req.clientOrderId || fill.crypto !== req.crypto || !sameNotional) {
        throw new ExchangeUnavailableError(
          `exchange answered ${fill.clientOrderId} ${fill.crypto} ${fill.notional} to ${req.clientOrderId} ${req.crypto} ${req.notional}`,
        );
      }
      return fill;
    },

    async findFill(clientOrderId: string): Promise<Fill | undefined> {
      const path = `/orders/${encodeURIComponent(clientOrderId)}`;
      const answer = await call('GET', path);
      if (answer.status === 404) return undefined;
      const fill = toFill(read(fillSchema, `GET ${path}`, answer));
      if (fill.clientOrderId !== clientOrderId) {
        throw new ExchangeUnavailableError(`exchange answered ${fill.clientOrderId} to ${clientOrderId}`);
      }
      return fill;
    },
  };
}
