/**
 * The one place money is parsed, formatted and multiplied.
 * USD is held as integer cents and crypto quantities as integer units of 1e-8, both as bigint,
 * so no binary float ever holds money. Temporal payloads and API output carry decimal strings.
 */
import { DataError } from './errors.js';

export type Cents = bigint;
export type Units = bigint;

export const USD_DECIMALS = 2;
export const QUANTITY_DECIMALS = 8;
const UNITS_PER_COIN = 10n ** BigInt(QUANTITY_DECIMALS);

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export interface ParseOptions {
  /** Largest accepted value, in the smallest unit. */
  max?: bigint;
}

const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/** Strictly parses a positive decimal with at most `decimals` places into integer minor units. */
export function parseDecimal(input: unknown, decimals: number, options: ParseOptions = {}): Parsed<bigint> {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, message: 'must be a finite number' };
    text = String(input);
  } else if (typeof input === 'string') {
    text = input;
  } else {
    return { ok: false, message: 'must be a decimal number or a decimal string' };
  }
  if (text.startsWith('-')) return { ok: false, message: 'must not be negative' };
  const match = DECIMAL.exec(text);
  if (!match) {
    return { ok: false, message: 'must be a plain decimal such as "12.50" (no sign, exponent or spaces)' };
  }
  const fraction = match[2] ?? '';
  if (fraction.length > decimals) {
    return { ok: false, message: `must have at most ${decimals} decimal places` };
  }
  const value = BigInt(match[1]! + fraction.padEnd(decimals, '0'));
  if (value === 0n) return { ok: false, message: 'must be greater than zero' };
  if (options.max !== undefined && value > options.max) {
    return { ok: false, message: `must not exceed ${formatDecimal(options.max, decimals)}` };
  }
  return { ok: true, value };
}

/** Formats integer minor units as a fixed-point decimal string ("12.00", "0.00010000"). */
export function formatDecimal(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return `${negative ? '-' : ''}${whole}${decimals > 0 ? `.${fraction}` : ''}`;
}

/** Reads a decimal string we wrote ourselves (database column, Temporal payload); signs allowed. */
export function readDecimal(text: string, decimals: number): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match || (match[3] ?? '').length > decimals)
    throw new DataError(`not a ${decimals}-place decimal: ${String(text)}`);
  const value = BigInt(match[2]! + (match[3] ?? '').padEnd(decimals, '0'));
  return match[1] ? -value : value;
}

export const parseUsd = (input: unknown, options?: ParseOptions) =>
  parseDecimal(input, USD_DECIMALS, options);
export const parseQuantity = (input: unknown, options?: ParseOptions) =>
  parseDecimal(input, QUANTITY_DECIMALS, options);
export const formatUsd = (cents: Cents) => formatDecimal(cents, USD_DECIMALS);
export const formatQuantity = (units: Units) => formatDecimal(units, QUANTITY_DECIMALS);
export const readUsd = (text: string): Cents => readDecimal(text, USD_DECIMALS);
export const readQuantity = (text: string): Units => readDecimal(text, QUANTITY_DECIMALS);

/** Integer division rounding half away from zero, for non-negative operands. */
function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** total_price = round_half_up(quantity * price, 2). */
export function totalPrice(quantity: Units, price: Cents): Cents {
  return divideHalfUp(quantity * price, UNITS_PER_COIN);
}

/** Quantity bought for a notional at a price, rounded down so the buyer never gets more than paid for. */
export function quantityFor(notional: Cents, price: Cents): Units {
  return (notional * UNITS_PER_COIN) / price;
}

export const sum = (values: Iterable<bigint>): bigint => {
  let total = 0n;
  for (const v of values) total += v;
  return total;
};

export type Rounding = 'down' | 'up' | 'half-up';

/**
 * Reads a non-negative decimal written by someone else (an exchange's amount, any number of places)
 * into integer units of `decimals` places, rounded as asked; undefined for anything that is not a
 * plain decimal, so a malformed answer is never coerced into an amount.
 */
export function roundDecimal(text: string, decimals: number, rounding: Rounding): bigint | undefined {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  const kept = BigInt(match[1]! + fraction.slice(0, decimals).padEnd(decimals, '0'));
  const dropped = fraction.slice(decimals);
  if (rounding === 'down' || !/[1-9]/.test(dropped)) return kept;
  if (rounding === 'up') return kept + 1n;
  return dropped[0]! >= '5' ? kept + 1n : kept;
}

/** a / b rounded half up to `decimals` places, both given in units of `decimals` places. */
export function divideDecimal(a: bigint, b: bigint, decimals: number): bigint {
  return divideHalfUp(a * 10n ** BigInt(decimals), b);
}

/** A decimal string we wrote ourselves, without trailing zeros, for people to read ("3.00000000" → "3"). */
export const shortDecimal = (text: string): string =>
  text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
