import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { DomainError, conflict, forbidden } from '../../domain/errors.js';
import { fromFailure } from '../../temporal/failures.js';
import { readPoolView } from '../../temporal/pool-view.js';
import {
  auditedReconcile,
  heldOrderState,
  listCryptos,
  listHeldOrders,
  listWallets,
  updateCrypto,
} from '../../services/admin.js';
import { orderWorkflowId, reviewOrderUpdate } from '../../workflows/definitions.js';
import {
  cryptoAdminSchema,
  errorSchema,
  heldOrderSchema,
  houseSchema,
  idParams,
  orderSchema,
  pageOf,
  pageQuery,
  poolSchema,
  purchaseSchema,
  reconcileSchema,
  usdInput,
  walletAdminSchema,
} from '../schemas.js';
import type { Env } from '../../config/env.js';
import { emptyPool, poolAges } from '../pools.js';
import { logAboutOrder } from '../orders/order-log.js';
import { cancelWaitingOrder } from '../orders/cancel.js';
import { listPurchases } from '../../services/purchases.js';
import { houseSummary, listHouseEntries } from '../../services/house.js';
import { formatUsd, readUsd } from '../../domain/money.js';
import { poolThreshold } from '../../domain/orders.js';

export const adminRoutes: FastifyPluginAsyncZod<{ env: Env; temporal: Client }> = async (
  app,
  { env, temporal },
) => {
  const tags = ['admin'];
  const security = [{ bearerAuth: [] }];
  const guarded = { config: { auth: 'admin' as const } };
  const denied = { 401: errorSchema, 403: errorSchema };

  app.get(
    '/admin/orders/held/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Orders held by the fraud rules, newest first',
        querystring: pageQuery('bigint'),
        response: { 200: pageOf(heldOrderSchema), 400: errorSchema, ...denied },
      },
    },
    async (request) => listHeldOrders(request.em, request.query.limit, request.query.cursor),
  );

  const review = (decision: 'approve' | 'reject') =>
    app.post(
      `/admin/orders/:id/${decision}/`,
      {
        ...guarded,
        schema: {
          tags,
          security,
          summary:
            decision === 'approve'
              ? 'Release a held order to be bought'
              : 'Refuse a held order and refund it',
          params: idParams('bigint'),
          response: { 200: orderSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, ...denied },
        },
      },
      async (request) => {
        const orderId = request.params.id;
        const log = logAboutOrder(request, orderId);
        if ((await heldOrderState(request.em, orderId)) !== 'held') {
          throw conflict('order_not_held', 'the order is not waiting for review');
        }
        try {
          const order = await temporal.workflow
            .getHandle(orderWorkflowId(orderId))
            .executeUpdate(reviewOrderUpdate, { args: [{ decision, adminId: request.user.id }] });
          log.info({ decision, adminId: request.user.id, state: order.state }, 'order reviewed');
          return order;
        } catch (error) {
          // The review activity found the caller is no longer an admin (the token's role is older).
          const refusal = error instanceof WorkflowUpdateFailedError ? fromFailure(error.cause) : undefined;
          if (refusal?.code === 'reviewer_not_admin') throw forbidden(refusal.message);
          // Another admin decided first: the validator refused, or the winner's rejection closed the
          // workflow before this update was taken (the server then aborts it as "not found").
          if (
            error instanceof WorkflowUpdateFailedError ||
            (await heldOrderState(request.em.fork(), orderId)) !== 'held'
          )
            throw conflict('order_not_held', 'the order is not waiting for review');
          throw error;
        }
      },
    );
  review('approve');
  review('reject');

  app.post(
    '/admin/orders/:id/cancel/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Cancel any user’s waiting order (`aggregated` or `held`) and refund it; audited',
        description:
          'As the owner’s `POST orders/{id}/cancel/`, for any user’s order; recorded in the audit log as `cancel_order`. 409 `order_not_cancellable` when the order is no longer waiting.',
        params: idParams('bigint'),
        response: { 200: orderSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, ...denied },
      },
    },
    async (request) => {
      const orderId = request.params.id;
      const log = logAboutOrder(request, orderId);
      const order = await cancelWaitingOrder(temporal, request.em, orderId, {
        by: 'admin',
        adminId: request.user.id,
      });
      log.info({ adminId: request.user.id, state: order.state }, 'order cancelled by an admin');
      return order;
    },
  );

  app.get(
    '/admin/pools/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'The pool of small orders of every crypto (from its workflow)',
        response: { 200: z.array(poolSchema), 503: errorSchema, ...denied },
      },
    },
    async (request) => {
      const cryptos = await listCryptos(request.em);
      try {
        return await Promise.all(
          cryptos.map(async ({ name, min_notional }) => {
            const view = await readPoolView(temporal, name, env.TEMPORAL_RPC_TIMEOUT);
            if (view) return poolAges(view);
            // No pool running: nothing waits to be pooled for this crypto.
            const threshold = poolThreshold(env.AGGREGATION_THRESHOLD, readUsd(min_notional));
            return emptyPool(name, formatUsd(threshold));
          }),
        );
      } catch (error) {
        request.log.warn({ err: error }, 'a pool did not answer its query');
        throw new DomainError(
          'temporal_unavailable',
          'the pools cannot be read right now (a pool workflow did not answer in time)',
        );
      }
    },
  );

  app.get(
    '/admin/crypto-currencies/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Every crypto, active or not',
        response: { 200: z.array(cryptoAdminSchema), ...denied },
      },
    },
    async (request) => listCryptos(request.em),
  );

  app.patch(
    '/admin/crypto-currencies/:name/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Pin or unpin a crypto’s price, or (de)activate it',
        description:
          'A `price` pins it (`price_source: manual`): the scheduled refresh leaves it alone until `price: null` hands it back to the exchange.',
        params: z.strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9]{1,10}$/)
            .transform((s) => s.toUpperCase()),
        }),
        body: z.strictObject({
          price: usdInput(env.MAX_AMOUNT).nullable().optional(),
          active: z.boolean().optional(),
        }),
        response: { 200: cryptoAdminSchema, 400: errorSchema, 404: errorSchema, ...denied },
      },
    },
    async (request) => updateCrypto(request.em, request.user.id, request.params.name, request.body),
  );

  app.get(
    '/admin/reconcile/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Check every wallet against its ledger and every purchase against the house account',
        response: { 200: reconcileSchema, ...denied },
      },
    },
    async (request) => auditedReconcile(request.em, request.user.id),
  );

  app.get(
    '/admin/batches/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Every exchange purchase (an order bought alone or a batch), newest first',
        description: 'Each with the fill the exchange reported and the orders it bought.',
        // The cursor is a purchase's `id` (a bigint sequence).
        querystring: pageQuery('bigint'),
        response: { 200: pageOf(purchaseSchema), 400: errorSchema, ...denied },
      },
    },
    async (request) => listPurchases(request.em, request.query.limit, request.query.cursor),
  );

  app.get(
    '/admin/house/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'The house account: balance, position per asset, and its entries newest first',
        description:
          'What each purchase cost or left the house: top-ups, unspent quote, fees and the difference between the quantity filled and the quantity the users received.',
        querystring: pageQuery('bigint'),
        response: { 200: houseSchema, 400: errorSchema, ...denied },
      },
    },
    async (request) => ({
      ...(await houseSummary(request.em)),
      entries: await listHouseEntries(request.em, request.query.limit, request.query.cursor),
    }),
  );

  app.get(
    '/admin/wallets/',
    {
      ...guarded,
      schema: {
        tags,
        security,
        summary: 'Every wallet, read-only',
        // The cursor is a user id (an int column).
        querystring: pageQuery('int'),
        response: { 200: pageOf(walletAdminSchema), 400: errorSchema, ...denied },
      },
    },
    async (request) => listWallets(request.em, request.query.limit, request.query.cursor),
  );
};
