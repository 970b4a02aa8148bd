import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listActiveCryptos } from '../../services/cryptos.js';
import { usdOutput } from '../schemas.js';

export const cryptoCurrencyRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/exchanges/crypto-currencies/',
    {
      schema: {
        tags: ['exchange'],
        summary: 'Cryptocurrencies on sale and their current USD prices',
        response: { 200: z.array(z.object({ name: z.string(), price: usdOutput })) },
      },
    },
    async (request) => listActiveCryptos(request.em),
  );
};
