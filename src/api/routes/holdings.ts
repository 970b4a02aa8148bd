import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { holdings } from '../../services/orders.js';
import { errorSchema, quantityOutput } from '../schemas.js';

export const holdingRoutes: FastifyPluginAsyncZod = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/accounts/holdings/',
    {
      config: { auth: 'user' },
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
};
