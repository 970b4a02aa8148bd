import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserOrder, holdings, listUserOrders } from '../../services/orders.js';
import { placeOrder, type PlacementDeps } from '../orders/placement.js';
import { idempotencyHeaders, idempotencyKey } from '../idempotency-key.js';
import {
  errorSchema,
  idParams,
  orderSchema,
  pageOf,
  pageQuery,
  quantityInput,
  quantityOutput,
} from '../schemas.js';

/** At most a billion coins in one order; the total is capped separately by MAX_AMOUNT. */
const MAX_QUANTITY = 10n ** 17n;

const orderBody = z.strictObject({
  crypto: z
    .string()
    .regex(/^[A-Za-z0-9]{1,10}$/, 'a cryptocurrency symbol such as "BTC"')
    .transform((s) => s.toUpperCase()),
  amount: quantityInput(MAX_QUANTITY),
});

export async function orderRoutes(app: FastifyInstance, deps: PlacementDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['orders'];
  const security = [{ bearerAuth: [] }];

  r.post(
    '/orders/',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Buy crypto: answers 201 once the wallet is debited; settlement follows asynchronously',
        description:
          'Totals of $10 or more are bought at once; smaller ones wait in the crypto’s pool (state `aggregated`) until it reaches $10 or the maximum wait passes.',
        body: orderBody,
        headers: idempotencyHeaders,
        response: {
          201: orderSchema,
          400: errorSchema,
          401: errorSchema,
          409: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await placeOrder(
        deps,
        request.em,
        request.user.id,
        request.body,
        idempotencyKey(request),
      );
      return reply.status(result.status as 201).send(result.body as never);
    },
  );

  r.get(
    '/orders/',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'The caller’s orders, newest first',
        querystring: pageQuery('bigint'),
        response: { 200: pageOf(orderSchema), 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => listUserOrders(request.em, request.user.id, request.query.limit, request.query.cursor),
  );

  r.get(
    '/orders/:id/',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'One order of the caller',
        params: idParams('bigint'),
        response: { 200: orderSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema },
      },
    },
    async (request) => getUserOrder(request.em, request.user.id, request.params.id),
  );

  r.get(
    '/accounts/holdings/',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['accounts'],
        security,
        summary: 'Crypto the caller owns: the sums of their completed orders',
        response: {
          200: z.array(z.object({ crypto: z.string(), amount: quantityOutput })),
          401: errorSchema,
        },
      },
    },
    async (request) => holdings(request.em, request.user.id),
  );
}
