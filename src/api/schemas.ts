import { z } from 'zod';
import { parseDecimal, USD_DECIMALS, QUANTITY_DECIMALS } from '../domain/money.js';
import { ORDER_STATES } from '../domain/orders.js';
import { JsonNumber } from './json-body.js';
import { PRICE_SOURCES } from '../entities/crypto-currency.js';
import { PLACEMENT_STATES } from '../entities/order-placement.js';
import { HOUSE_CHECKS, HOUSE_ENTRY_KINDS } from '../domain/house.js';

/**
 * A positive amount given as a JSON number or a decimal string, parsed exactly into minor units.
 * (The body parser hands JSON numbers over as a JsonNumber holding their source text; amounts are
 * the only fields that accept one.)
 */
const decimalInput = (decimals: number, max: bigint, example: string) =>
  z
    .preprocess((v) => (v instanceof JsonNumber ? v.source : v), z.union([z.string(), z.number()]))
    .transform((input, ctx) => {
      const parsed = parseDecimal(input, decimals, { max });
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', message: parsed.message });
        return z.NEVER;
      }
      return parsed.value;
    })
    .meta({ description: `Positive decimal, at most ${decimals} places`, example });

export const usdInput = (max: bigint) => decimalInput(USD_DECIMALS, max, '100.00');
export const quantityInput = (max: bigint) => decimalInput(QUANTITY_DECIMALS, max, '3');

export const usdOutput = z.string().meta({ description: 'USD, two decimals', example: '12.00' });
export const quantityOutput = z
  .string()
  .meta({ description: 'Crypto quantity, eight decimals', example: '3.00000000' });

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/**
 * The largest id each key column type holds. A `bigint` id is capped at 2^53 - 1, the largest
 * integer a JSON number carries exactly; its sequences never get near it.
 */
const ID_MAX = { int: 2_147_483_647n, bigint: BigInt(Number.MAX_SAFE_INTEGER) } as const;
/** The Postgres type of the key column an id or cursor is compared with (see src/migrations). */
export type IdColumn = keyof typeof ID_MAX;

/**
 * An id or cursor in a path or query string: plain decimal digits, no sign, no leading zero, no
 * spaces, no exponent or hex, within the range of its column. Anything else is a 400 rather than a
 * coerced lookup or a database error.
 */
export const idInput = (column: IdColumn) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, { message: 'a positive whole number in plain decimal digits', abort: true })
    .refine((text) => BigInt(text) <= ID_MAX[column], `must not exceed ${ID_MAX[column]}`)
    .transform(Number)
    .meta({ description: `Positive integer, at most ${ID_MAX[column]}`, example: '42' });

/** `limit` (1 to 100, plain digits, 20 when absent) and `cursor` (the `next_cursor` of the previous page). */
export const pageQuery = (cursorColumn: IdColumn) =>
  z.strictObject({
    limit: z
      .string()
      .regex(/^[1-9][0-9]{0,2}$/, {
        message: 'a whole number from 1 to 100 in plain decimal digits',
        abort: true,
      })
      .transform(Number)
      .refine((n) => n <= 100, 'must not exceed 100')
      .default(20)
      .meta({ description: 'Page size, 1 to 100', example: '20' }),
    cursor: idInput(cursorColumn).optional(),
  });

export const idParams = (column: IdColumn) => z.strictObject({ id: idInput(column) });

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ results: z.array(item), next_cursor: z.string().nullable() });

export const tokenPair = z.object({ access: z.string(), refresh: z.string() });
export const credentials = z.strictObject({
  username: z
    .string()
    .min(3)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only'),
  password: z.string().min(8).max(256),
});

export const orderSchema = z.object({
  id: z.number().int(),
  crypto: z.string(),
  amount: quantityOutput,
  price: usdOutput,
  total_price: usdOutput,
  state: z.enum(ORDER_STATES),
  batch_id: z.string().nullable(),
  failure_reason: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** An order without an order row: its debit has not answered yet, or refused it (no money moved). */
export const placementSchema = z
  .object({
    id: z.number().int(),
    crypto: z.string(),
    amount: quantityOutput,
    state: z.enum(PLACEMENT_STATES),
    failure_code: z.string().nullable(),
    failure_reason: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    description:
      '`placing`: accepted, the wallet debit has not answered yet; `rejected`: the debit refused it, nothing was charged',
  });

export const heldOrderSchema = orderSchema.extend({
  user_id: z.number().int(),
  username: z.string(),
  fraud_rule: z.string().nullable(),
  fraud_reason: z.string().nullable(),
});

export const poolSchema = z.object({
  crypto: z.string(),
  total: usdOutput,
  threshold: usdOutput,
  orders: z.array(
    z.object({
      order_id: z.number().int(),
      total: usdOutput,
      amount: quantityOutput,
      added_at: z.string().meta({ description: 'When the order joined the pool (ISO 8601)' }),
      waiting_ms: z
        .number()
        .int()
        .meta({ description: 'How long it has waited, at the time of the request' }),
    }),
  ),
  batches: z.number().int(),
  flush_at: z
    .string()
    .nullable()
    .meta({ description: 'When the pool is bought even below the threshold; null when empty' }),
  flush_in_ms: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Time left until `flush_at`, at request time' }),
});

export const cryptoAdminSchema = z.object({
  name: z.string(),
  price: usdOutput,
  active: z.boolean(),
  price_source: z.enum(PRICE_SOURCES).meta({
    description: '`manual`: pinned by an admin, left alone by the scheduled refresh; `exchange`: refreshed',
  }),
  price_refreshed_at: z
    .string()
    .nullable()
    .meta({ description: 'When the refresh last copied the exchange price (ISO 8601)' }),
  min_notional: usdOutput.meta({
    description: 'The market minimum order value; the pooling threshold is never below it',
  }),
});
export const walletAdminSchema = z.object({
  user_id: z.number().int(),
  username: z.string(),
  balance: usdOutput,
});
/** A signed USD value or quantity with the exchange's eight places. */
const units8Output = z.string().meta({ description: 'Signed decimal, eight places', example: '-0.00001000' });

const housePositionSchema = z.object({
  asset: z.string(),
  quantity: units8Output.meta({ description: 'Σ quantity of the asset the house holds (signed)' }),
});
const houseTotals = {
  balance: units8Output.meta({ description: 'Σ amount of the house entries, USD (signed)' }),
  positions: z.array(housePositionSchema),
};

export const reconcileSchema = z.object({
  wallets: z.number().int(),
  mismatches: z.array(
    z.object({
      wallet_id: z.number().int(),
      user_id: z.number().int(),
      balance: usdOutput,
      ledger_sum: usdOutput,
    }),
  ),
  house: z.object({
    purchases: z.number().int().meta({ description: 'Completed purchases checked' }),
    failures: z.array(
      z.object({
        purchase: z.string().meta({ description: 'Client order id: `order-<id>` or the batch id' }),
        order_id: z.number().int().nullable(),
        check: z.enum(HOUSE_CHECKS),
        expected: z.string(),
        actual: z.string(),
      }),
    ),
    ...houseTotals,
    unvalued_fees: z
      .array(z.object({ purchase: z.string(), asset: z.string(), quantity: units8Output }))
      .meta({ description: 'Fees charged in an asset that is neither the crypto nor the quote' }),
  }),
});

export const purchaseSchema = z.object({
  id: z.number().int().meta({ description: 'Position in the list, newest highest (the cursor)' }),
  client_order_id: z.string(),
  kind: z.enum(['order', 'batch']).meta({ description: '`order`: bought alone; `batch`: pooled orders' }),
  crypto: z.string(),
  symbol: z.string(),
  exchange_order_id: z.string(),
  quote_asked: usdOutput,
  house_top_up: usdOutput,
  fill: z.object({
    quote_spent: units8Output,
    quantity: units8Output,
    average_price: units8Output,
    commission: units8Output,
    commission_asset: z.string(),
  }),
  orders: z.array(
    z.object({
      id: z.number().int(),
      user_id: z.number().int(),
      amount: quantityOutput,
      total_price: usdOutput,
      state: z.enum(ORDER_STATES),
    }),
  ),
  created_at: z.string(),
});

export const houseEntrySchema = z.object({
  id: z.number().int(),
  purchase: z.string(),
  kind: z.enum(HOUSE_ENTRY_KINDS),
  asset: z.string(),
  amount: units8Output.meta({ description: 'USD value: + the house gains, − it pays' }),
  quantity: units8Output.nullable().meta({ description: 'Quantity of `asset`; null for cash' }),
  created_at: z.string(),
});

export const houseSchema = z.object({ ...houseTotals, entries: pageOf(houseEntrySchema) });
