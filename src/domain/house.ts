/**
 * The house account: what one exchange purchase leaves the house with. The user receives the
 * quantity quoted at placement (orders.amount); the exchange fills something else (rounded to its
 * step size, less commission, at a price that moved, topped up to the minimum), and the house
 * absorbs the difference. All in bigint: USD value and quantities in units of 1e-8, cents for the
 * amounts the service chose.
 *
 * For one purchase, with D = Σ total_price of its orders, U = the house top-up (0 for an order
 * bought alone), N = the quote asked = D + U, S = quote spent, Q = quantity filled, C = commission,
 * A = Σ amount of its orders and P = average price:
 *
 * - `top_up` (cash): −U, when U > 0.
 * - `unspent_quote` (cash): N − S, the quote the exchange did not spend (rounding to its step
 *   size); it stays in the house's exchange balance. Written when ≠ 0.
 * - `fee`, when C > 0: in the crypto, quantity −C and value −C×P; in the quote asset, cash −C (the
 *   exchange took it from the unspent quote, so the balance left there is N − S − C); in any other
 *   asset (e.g. BNB), quantity −C of that asset with value 0: an unvalued fee.
 * - `crypto_difference`: quantity Q − A valued at (Q − A)×P, the surplus the house keeps (+) or
 *   the shortfall it covers (−). Written when ≠ 0.
 *
 * Values are rounded half away from zero to 8 places. The identities, exact by construction:
 * cash — D = S + Σ cash amounts (+ C when the fee was in the quote asset);
 * crypto — Q − C (when the fee was in the crypto) = A + Σ quantity of the crypto's entries.
 */
import { DataError } from './errors.js';
import { QUANTITY_DECIMALS, parseDecimal, type Cents } from './money.js';

/** USD value or quantity in units of 1e-8. */
export type Units8 = bigint;

export const HOUSE_ENTRY_KINDS = ['top_up', 'unspent_quote', 'fee', 'crypto_difference'] as const;
export type HouseEntryKind = (typeof HOUSE_ENTRY_KINDS)[number];

const UNIT = 10n ** BigInt(QUANTITY_DECIMALS);
const UNITS_PER_CENT = 10n ** BigInt(QUANTITY_DECIMALS - 2);

export const centsToUnits = (cents: Cents): Units8 => cents * UNITS_PER_CENT;

/** quantity × price, both in 1e-8 units, rounded half away from zero to 1e-8. */
export function valueAt(quantity: Units8, price: Units8): Units8 {
  const product = quantity * price;
  const magnitude = product < 0n ? -product : product;
  const rounded = (magnitude * 2n + UNIT) / (UNIT * 2n);
  return product < 0n ? -rounded : rounded;
}

/** A fill as the exchange reports it (decimal strings), the `Fill` of src/exchange/exchange.ts. */
export interface FillText {
  exchangeOrderId: string;
  clientOrderId: string;
  crypto: string;
  symbol: string;
  /** Quote actually spent, up to 8 places. Never more than the notional asked for. */
  quoteSpent: string;
  /** Executed quantity of the crypto, up to 8 places, before commission. */
  quantity: string;
  /** Average execution price, up to 8 places. */
  averagePrice: string;
  /** Commission charged, up to 8 places, in `commissionAsset` (e.g. `BTC`, `USDT`, `BNB`). */
  commission: string;
  commissionAsset: string;
}

export interface ParsedFill {
  exchangeOrderId: string;
  clientOrderId: string;
  crypto: string;
  symbol: string;
  /** The market's assets, from its symbol (`BTC/USDT` → `BTC`, `USDT`): the base may be named
   * differently from the crypto when EXCHANGE_MARKETS maps it (e.g. BTC → `XBT/USD`). */
  baseAsset: string;
  quoteAsset: string;
  quoteSpent: Units8;
  quantity: Units8;
  averagePrice: Units8;
  commission: Units8;
  commissionAsset: string;
}

const SYMBOL = /^([A-Z0-9]{1,16})\/([A-Z0-9]{1,16})$/;
const ASSET = /^[A-Z0-9]{1,16}$/;
const ZERO = /^0(?:\.0{1,8})?$/;

/** Strictly reads a fill; anything malformed is a DataError (the activity fails for good). */
export function parseFill(fill: FillText, expected: { clientOrderId: string; crypto: string }): ParsedFill {
  const problems: string[] = [];
  const amount = (field: keyof FillText, allowZero = false): bigint => {
    const text = fill?.[field];
    if (allowZero && typeof text === 'string' && ZERO.test(text)) return 0n;
    const parsed = parseDecimal(text, QUANTITY_DECIMALS);
    if (parsed.ok) return parsed.value;
    problems.push(`${field} ${JSON.stringify(text)} ${parsed.message}`);
    return 0n;
  };
  const text = (field: keyof FillText, pattern: RegExp): string => {
    const value = fill?.[field];
    if (typeof value === 'string' && pattern.test(value)) return value;
    problems.push(`${field} ${JSON.stringify(value)} is malformed`);
    return '';
  };
  const exchangeOrderId = text('exchangeOrderId', /^[\x21-\x7e]{1,64}$/);
  const clientOrderId = text('clientOrderId', /^[\x21-\x7e]{1,64}$/);
  const crypto = text('crypto', ASSET);
  const symbol = text('symbol', SYMBOL);
  const commissionAsset = text('commissionAsset', ASSET);
  const parsed: ParsedFill = {
    exchangeOrderId,
    clientOrderId,
    crypto,
    symbol,
    baseAsset: SYMBOL.exec(symbol)?.[1] ?? '',
    quoteAsset: SYMBOL.exec(symbol)?.[2] ?? '',
    quoteSpent: amount('quoteSpent'),
    quantity: amount('quantity'),
    averagePrice: amount('averagePrice'),
    commission: amount('commission', true),
    commissionAsset,
  };
  if (clientOrderId && clientOrderId !== expected.clientOrderId)
    problems.push(`clientOrderId ${clientOrderId} is not ${expected.clientOrderId}`);
  if (crypto && crypto !== expected.crypto) problems.push(`crypto ${crypto} is not ${expected.crypto}`);
  if (problems.length > 0) throw new DataError(`malformed fill: ${problems.join('; ')}`);
  return parsed;
}

/** Where a purchase's commission was charged. */
export type FeeIn = 'crypto' | 'quote' | 'other';

export const feeIn = (fill: Pick<ParsedFill, 'baseAsset' | 'quoteAsset' | 'commissionAsset'>): FeeIn =>
  fill.commissionAsset === fill.baseAsset
    ? 'crypto'
    : fill.commissionAsset === fill.quoteAsset
      ? 'quote'
      : 'other';

/** What the house entries are computed from. */
export interface PurchaseFigures {
  fill: ParsedFill;
  /** D: Σ total_price of the purchase's orders. */
  ordersTotal: Cents;
  /** U: what the house added to reach the exchange minimum. */
  houseTopUp: Cents;
  /** N: the notional asked for (D + U). */
  quoteAsked: Cents;
  /** A: Σ amount of the purchase's orders (the quantity the users receive). */
  ordersAmount: Units8;
}

export interface HouseEntryDraft {
  kind: HouseEntryKind;
  asset: string;
  /** USD value, signed: + the house gains, − the house pays. */
  amount: Units8;
  /** Signed quantity of `asset` for crypto kinds; null for cash kinds. */
  quantity: Units8 | null;
}

/** The house entries of one purchase (see the module comment). */
export function houseEntries(figures: PurchaseFigures): HouseEntryDraft[] {
  const { fill } = figures;
  const cash = (kind: HouseEntryKind, amount: Units8): HouseEntryDraft => ({
    kind,
    asset: fill.quoteAsset,
    amount,
    quantity: null,
  });
  const entries: HouseEntryDraft[] = [];
  if (figures.houseTopUp > 0n) entries.push(cash('top_up', -centsToUnits(figures.houseTopUp)));
  const unspent = centsToUnits(figures.quoteAsked) - fill.quoteSpent;
  if (unspent !== 0n) entries.push(cash('unspent_quote', unspent));
  if (fill.commission > 0n) {
    const where = feeIn(fill);
    if (where === 'quote') entries.push(cash('fee', -fill.commission));
    else
      entries.push({
        kind: 'fee',
        // Booked under the crypto's own name when charged in the market's base asset, so the
        // house's position per crypto adds up whatever the exchange calls it.
        asset: where === 'crypto' ? fill.crypto : fill.commissionAsset,
        amount: where === 'crypto' ? -valueAt(fill.commission, fill.averagePrice) : 0n,
        quantity: -fill.commission,
      });
  }
  const difference = fill.quantity - figures.ordersAmount;
  if (difference !== 0n)
    entries.push({
      kind: 'crypto_difference',
      asset: fill.crypto,
      amount: valueAt(difference, fill.averagePrice),
      quantity: difference,
    });
  return entries;
}

/** What the reconciliation checks for every completed purchase (see README, Reconcile). */
export const HOUSE_CHECKS = [
  'purchase_recorded',
  'cash_identity',
  'crypto_identity',
  'quote_spent_within_asked',
  'order_in_one_purchase',
] as const;
export type HouseCheck = (typeof HOUSE_CHECKS)[number];

/** One side of an identity: what it should be and what the records say. */
export interface IdentityCheck {
  expected: bigint;
  actual: bigint;
}

/** Cash: D = S + Σ cash amounts (+ C when the fee was in the quote asset), in 1e-8 USD. */
export function cashIdentity(input: {
  ordersTotal: Cents;
  quoteSpent: Units8;
  cashAmounts: Units8;
  commission: Units8;
  feeIn: FeeIn;
}): IdentityCheck {
  return {
    expected: centsToUnits(input.ordersTotal),
    actual: input.quoteSpent + input.cashAmounts + (input.feeIn === 'quote' ? input.commission : 0n),
  };
}

/** Crypto: Q − C (when the fee was in the crypto) = A + Σ quantity of the crypto's entries. */
export function cryptoIdentity(input: {
  quantity: Units8;
  commission: Units8;
  feeIn: FeeIn;
  ordersAmount: Units8;
  cryptoQuantities: Units8;
}): IdentityCheck {
  return {
    expected: input.quantity - (input.feeIn === 'crypto' ? input.commission : 0n),
    actual: input.ordersAmount + input.cryptoQuantities,
  };
}
