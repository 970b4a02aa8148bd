import { z } from 'zod';
import { quantityInput, usdInput } from '../schemas.js';
import type { OrderRequest } from './order-request.js';

/** At most a billion coins in one order; the total is capped separately by MAX_AMOUNT. */
const MAX_QUANTITY = 10n ** 17n;
/** What a USD total may say before MAX_AMOUNT, checked with the price, refuses it (400 either way). */
const MAX_TOTAL_INPUT = 10n ** 15n;

export const cryptoSymbol = z
  .string()
  .regex(/^[A-Za-z0-9]{1,10}$/, 'a cryptocurrency symbol such as "BTC"')
  .transform((s) => s.toUpperCase());

const amount = quantityInput(MAX_QUANTITY).meta({
  description: 'Crypto quantity to buy, at most 8 places (give this or `total`)',
  example: '3',
});
const total = usdInput(MAX_TOTAL_INPUT).meta({
  description:
    'USD to spend, at most 2 places (give this or `amount`): buys total ÷ price rounded down to 8 places, and is never exceeded',
  example: '25.00',
});

/** Exactly one of `amount` and `total`: the one rule zod cannot say with optional fields alone. */
const oneSize = (body: { amount?: unknown; total?: unknown }, ctx: z.RefinementCtx) => {
  if ((body.amount === undefined) === (body.total === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: body.amount === undefined ? [] : ['total'],
      message: 'give exactly one of `amount` (crypto) or `total` (USD)',
    });
  }
};

/** `POST quotes/`: a crypto and exactly one of `amount` or `total`. */
export const quoteBody = z
  .strictObject({ crypto: cryptoSymbol, amount: amount.optional(), total: total.optional() })
  .superRefine(oneSize);

/**
 * `POST orders/`: `{crypto, amount}`, `{crypto, total}`, or `{quote_id}` alone. One object with
 * optional fields rather than a union, so a mistake gets one clear message rather than three.
 */
export const orderBody = z
  .strictObject({
    crypto: cryptoSymbol.optional(),
    amount: amount.optional(),
    total: total.optional(),
    quote_id: z.uuid().optional().meta({
      description: 'A quote from `POST quotes/`, alone: the order is placed at its price and quantity',
    }),
  })
  .superRefine((body, ctx) => {
    if (body.quote_id !== undefined) {
      const extra = (['crypto', 'amount', 'total'] as const).filter((k) => body[k] !== undefined);
      if (extra.length) {
        ctx.addIssue({
          code: 'custom',
          path: [extra[0]!],
          message: '`quote_id` comes alone: the quote fixes the crypto, the quantity and the price',
        });
      }
      return;
    }
    if (body.crypto === undefined) {
      ctx.addIssue({ code: 'custom', path: ['crypto'], message: 'required (or give `quote_id` alone)' });
    }
    oneSize(body, ctx);
  });

type SizeFields = { amount?: bigint; total?: bigint };

/** The size a validated body asks for (the refinements above guarantee exactly one). */
export const sizeOf = (body: SizeFields): { amount: bigint } | { total: bigint } =>
  body.amount !== undefined ? { amount: body.amount } : { total: body.total! };

/** The placement request a validated order body stands for. */
export const orderRequestOf = (body: z.infer<typeof orderBody>): OrderRequest =>
  body.quote_id !== undefined ? { quoteId: body.quote_id } : { crypto: body.crypto!, ...sizeOf(body) };
