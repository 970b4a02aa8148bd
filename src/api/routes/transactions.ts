import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getEntry, listEntries } from '../../services/ledger.js';
import { errorSchema, idParams, pageOf, pageQuery, usdOutput } from '../schemas.js';

const entry = z.object({
  id: z.number().int(),
  type: z.enum(['deposit', 'withdrawal', 'refund']),
  amount: usdOutput,
  order_id: z.number().int().nullable(),
  created_at: z.string(),
});

export const transactionRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['transactions'];
  const security = [{ bearerAuth: [] }];

  app.get(
    '/transactions/',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary: 'The caller’s ledger entries, newest first',
        querystring: pageQuery('bigint'),
        response: { 200: pageOf(entry), 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => listEntries(request.em, request.user.id, request.query.limit, request.query.cursor),
  );

  app.get(
    '/transactions/:id/',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary: 'One ledger entry of the caller',
        params: idParams('bigint'),
        response: { 200: entry, 400: errorSchema, 401: errorSchema, 404: errorSchema },
      },
    },
    async (request) => getEntry(request.em, request.user.id, request.params.id),
  );
};
