import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Env } from '../../config/env.js';
import { createQuote, listQuotes } from '../../services/quotes.js';
import { quoteBody, sizeOf } from '../orders/order-body.js';
import { errorSchema, idInput, pageOf, pageQuery, quantityOutput, usdOutput } from '../schemas.js';

const quoteSchema = z.object({
  id: z.uuid(),
  crypto: z.string(),
  amount: quantityOutput,
  price: usdOutput,
  total_price: usdOutput,
  expires_at: z.string().meta({ description: 'Until when `POST orders/` accepts it (ISO 8601)' }),
});

const quoteAdminSchema = quoteSchema.extend({
  user_id: z.number().int(),
  requested_total: usdOutput.nullable().meta({ description: 'The USD total asked for; null for a quantity' }),
  created_at: z.string(),
  used_by_order_id: z.number().int().nullable().meta({ description: 'The order that used it, if any' }),
});

/** Quotes: a price held for QUOTE_TTL, for the user to place an order at (`POST orders/ {quote_id}`). */
export const quoteRoutes: FastifyPluginAsyncZod<{ env: Env }> = async (app, { env }) => {
  const security = [{ bearerAuth: [] }];

  app.post(
    '/quotes/',
    {
      config: { auth: 'user', limits: ['quotes'] },
      schema: {
        tags: ['orders'],
        security,
        summary: 'Quote a purchase: its quantity and price, held for a while; moves no money',
        description: [
          'The body is `{crypto, amount}` or `{crypto, total}`, priced as `POST orders/` prices them, at the current price.',
          'Place it with `POST orders/ {"quote_id": …}` before `expires_at` (`QUOTE_TTL` after it was made): the order gets exactly this `amount`, `price` and `total_price`, whatever the market does meanwhile. A quote places one order; it is kept afterwards, so support can see what was shown.',
        ].join('\n\n'),
        body: quoteBody,
        response: { 201: quoteSchema, 400: errorSchema, 401: errorSchema },
      },
    },
    async (request, reply) => {
      const quote = await createQuote(
        request.em,
        request.user.id,
        { crypto: request.body.crypto, ...sizeOf(request.body) },
        { ttlMs: env.QUOTE_TTL, maxTotal: env.MAX_AMOUNT },
      );
      return reply.status(201).send(quote);
    },
  );

  app.get(
    '/admin/quotes/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        security,
        summary: 'Quotes shown to users, newest first (every user’s, or one’s with `user_id`)',
        querystring: pageQuery('bigint').extend({ user_id: idInput('int').optional() }),
        response: { 200: pageOf(quoteAdminSchema), 400: errorSchema, 401: errorSchema, 403: errorSchema },
      },
    },
    async (request) =>
      listQuotes(request.em, { userId: request.query.user_id }, request.query.limit, request.query.cursor),
  );
};
