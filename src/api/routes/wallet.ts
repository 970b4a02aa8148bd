import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatUsd, type Cents } from '../../domain/money.js';
import { deposit, getBalance, withdraw } from '../../services/wallet.js';
import { onceForKey } from '../../services/idempotency.js';
import { errorSchema, usdInput, usdOutput } from '../schemas.js';
import { idempotencyHeaders, idempotencyKey } from '../idempotency-key.js';
import type { Env } from '../../config/env.js';

const balance = z.object({ balance: usdOutput });

export const walletRoutes: FastifyPluginAsyncZod<{ env: Env }> = async (app, { env }) => {
  const amountBody = z.strictObject({ amount: usdInput(env.MAX_AMOUNT) });
  const tags = ['wallet'];
  const security = [{ bearerAuth: [] }];
  const moveResponses = {
    200: balance,
    400: errorSchema,
    401: errorSchema,
    409: errorSchema,
    422: errorSchema,
  };

  app.get(
    '/accounts/wallet/',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary: 'The caller’s USD balance',
        response: { 200: balance, 401: errorSchema },
      },
    },
    async (request) => ({ balance: formatUsd(await getBalance(request.em, request.user.id)) }),
  );

  const move = (
    method: 'PATCH' | 'POST',
    url: string,
    summary: string,
    scope: string,
    apply: typeof deposit,
  ) =>
    app.route({
      method,
      url,
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary,
        body: amountBody,
        headers: idempotencyHeaders,
        response: moveResponses,
      },
      handler: async (request) =>
        moveFunds(request.em, request.user.id, request.body.amount, idempotencyKey(request), scope, apply),
    });
  move('PATCH', '/accounts/wallet/deposit/', 'Add US dollars to the wallet', 'deposit', deposit);
  move(
    'POST',
    '/accounts/wallet/withdraw/',
    'Take US dollars out of the wallet; 422 when the balance is too low',
    'withdraw',
    withdraw,
  );
};

/** Deposits and withdrawals share the Idempotency-Key handling; only the ledger move differs. */
async function moveFunds(
  em: EntityManager,
  userId: number,
  amount: Cents,
  key: string | undefined,
  scope: string,
  apply: typeof deposit,
): Promise<{ balance: string }> {
  const run = async (tx: EntityManager) => ({
    status: 200,
    body: { balance: formatUsd(await apply(tx, userId, amount)) },
  });
  if (!key) return (await run(em)).body;
  return (await onceForKey(em, { userId, scope, key, request: formatUsd(amount) }, run)).body;
}
