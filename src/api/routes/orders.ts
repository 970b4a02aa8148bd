import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserOrder, listUserOrders } from '../../services/orders.js';
import { placeOrder, type PlacementDeps } from '../orders/placement.js';
import { logAboutOrder } from '../orders/order-log.js';
import { cancelWaitingOrder } from '../orders/cancel.js';
import { findPlacementRecord, type PlacementView } from '../../services/placements.js';
import { DomainError } from '../../domain/errors.js';
import { API_PREFIX } from '../prefix.js';
import { idempotencyHeaders, idempotencyKey } from '../idempotency-key.js';
import { errorSchema, idParams, orderSchema, pageOf, pageQuery, placementSchema } from '../schemas.js';
import { orderBody, orderRequestOf } from '../orders/order-body.js';

export const orderRoutes: FastifyPluginAsyncZod<PlacementDeps> = async (app, deps) => {
  const tags = ['orders'];
  const security = [{ bearerAuth: [] }];

  app.post(
    '/orders/',
    {
      config: { auth: 'user', limits: ['orders'], metric: 'placement' },
      schema: {
        tags,
        security,
        summary: 'Buy crypto: answers 201 once the wallet is debited; settlement follows asynchronously',
        description: [
          'The body is `{crypto, amount}` (a crypto quantity, priced at the debit), `{crypto, total}` (USD to spend: the quantity is total ÷ the current price rounded down to 8 places, and `total_price` = round_half_up(amount × price, 2) never exceeds `total`), or `{quote_id}` alone (a quote from `POST quotes/`: its quantity at its price). Anything else is 400. A quote that has expired is **422** `quote_expired`, one already used by another order **409** `quote_used` (a retry with the same `Idempotency-Key` replays the first answer instead), another user’s or an unknown one **404**.',
          'Totals of $10 or more are bought at once; smaller ones wait in the crypto’s pool (state `aggregated`) until it reaches $10 or the maximum wait passes.',
          'If the debit does not answer within `PLACEMENT_TIMEOUT`, the answer is **202 Accepted** with the order `placing` and a `Location` header: the order is under way and must not be placed again; `GET orders/{id}/` shows it `placing` until the debit commits (then its usual state) or refuses it (`rejected`, with `failure_code` and `failure_reason`; nothing was charged). A retry with the same `Idempotency-Key` joins the same order.',
          'When the workflow service cannot be reached the answer is **503** with `Retry-After`, and nothing was charged.',
        ].join('\n\n'),
        body: orderBody,
        headers: idempotencyHeaders,
        response: {
          201: orderSchema,
          202: placementSchema,
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
          409: errorSchema,
          422: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const result = await placeOrder(
        deps,
        request.em,
        request.user.id,
        orderRequestOf(request.body),
        idempotencyKey(request),
        (orderId) => logAboutOrder(request, orderId),
      );
      if (result.status === 202) {
        reply.header('location', `${API_PREFIX}/orders/${(result.body as PlacementView).id}/`);
      }
      if ('retryAfterSeconds' in result && result.retryAfterSeconds)
        reply.header('retry-after', String(result.retryAfterSeconds));
      return reply.status(result.status as 201).send(result.body as never);
    },
  );

  app.post(
    '/orders/:id/cancel/',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary:
          'Cancel an order still waiting (`aggregated` in its pool, or `held` for review): refunded in full',
        description: [
          'Answers 200 with the order `cancelled`; its total is back in the wallet (a `refund` ledger entry).',
          'An order in a batch being bought, completed, failed, cancelled or still `placing` cannot be cancelled: **409** `order_not_cancellable`. The pool decides, so a cancel racing the batch purchase either takes the order out before the batch is opened or is refused: an order is never both bought and refunded.',
        ].join('\n\n'),
        params: idParams('bigint'),
        response: {
          200: orderSchema,
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (request) => {
      const orderId = request.params.id;
      const log = logAboutOrder(request, orderId);
      const order = await cancelWaitingOrder(
        deps.temporal,
        request.em,
        orderId,
        { by: 'owner' },
        request.user.id,
      );
      log.info({ state: order.state }, 'order cancelled');
      return order;
    },
  );

  app.get(
    '/orders/',
    {
      config: { auth: 'user' },
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

  app.get(
    '/orders/:id/',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary: 'One order of the caller (also while it is `placing`, or `rejected` by its debit)',
        params: idParams('bigint'),
        response: {
          200: z.union([orderSchema, placementSchema]),
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      logAboutOrder(request, id);
      // The order row, once the debit committed; before that, the placement record.
      return getUserOrder(request.em, request.user.id, id).catch(async (error: unknown) => {
        if (!(error instanceof DomainError) || error.code !== 'not_found') throw error;
        const placement = await findPlacementRecord(request.em, id, request.user.id);
        if (!placement) throw error;
        return placement.view;
      });
    },
  );
};
