import * as ccxt from 'ccxt';
import { ExchangeRejectedError, ExchangeUnavailableError } from './exchange.js';

export interface DriverLogger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * What an operator should check for each refusal. Subclasses come before their parents, since the
 * first match wins (PermissionDenied is an AuthenticationError, BadSymbol a BadRequest, OrderNotFound
 * an InvalidOrder).
 */
const REFUSALS: [ErrorClass, string][] = [
  [
    ccxt.PermissionDenied,
    'the API key lacks a permission: allow spot trading and reading for it, and check its IP restriction',
  ],
  [ccxt.AccountSuspended, 'the exchange account is suspended or restricted: see the exchange'],
  [
    ccxt.AuthenticationError,
    'check EXCHANGE_API_KEY and EXCHANGE_SECRET (testnet keys work only with EXCHANGE_SANDBOX=true), and the key is enabled',
  ],
  [
    ccxt.InsufficientFunds,
    'the exchange account holds too little of the quote currency (EXCHANGE_QUOTE): fund it',
  ],
  [ccxt.BadSymbol, 'the exchange has no such market: check EXCHANGE_MARKETS and EXCHANGE_QUOTE'],
  [ccxt.MarketClosed, 'the market is not trading now'],
  [ccxt.OrderNotFound, 'the exchange has no such order'],
  [
    ccxt.InvalidOrder,
    "the exchange refused the order: check the market's minimum order value and lot size (make exchange-check)",
  ],
  [
    ccxt.BadRequest,
    "the exchange refused the request: check the market's minimum order value (make exchange-check) and the driver's settings",
  ],
  [ccxt.NotSupported, 'the exchange does not support this request: check EXCHANGE_ID'],
  [ccxt.ExchangeError, 'the exchange refused the request'],
];

/**
 * Binance's -2010 "Duplicate order sent." (an InvalidOrder to ccxt) while an order with the same
 * client order id is still being executed; other exchanges' ccxt classes say DuplicateOrderId.
 */
const DUPLICATE_ORDER = /duplicate order/i;

/**
 * The contract's error for anything a ccxt call threw. A refusal (ccxt's ExchangeError family) will be
 * refused again, so it is ExchangeRejectedError, coded by ccxt's class name and logged at error level
 * with what to check. Everything else, ccxt's OperationFailed family (network errors, timeouts, rate
 * limits, maintenance, a timestamp refused as stale: a request refused for its timestamp never
 * executed) or an unexpected answer, leaves the outcome of a buy open: ExchangeUnavailableError.
 */
export function translateError(error: unknown, what: string, log: DriverLogger): Error {
  if (error instanceof ExchangeRejectedError || error instanceof ExchangeUnavailableError) return error;
  const duplicate =
    error instanceof ccxt.DuplicateOrderId ||
    (error instanceof ccxt.InvalidOrder && DUPLICATE_ORDER.test(error.message));
  if (duplicate) {
    // Another attempt under this client order id is in flight; the next lookup finds its fill.
    return new ExchangeUnavailableError(`${what}: an order with this client order id is being executed`, {
      cause: error,
    });
  }
  if (error instanceof ccxt.ExchangeError) {
    const hint = REFUSALS.find(([type]) => error instanceof type)?.[1] ?? 'the exchange refused the request';
    return refused(error.name, `${what} refused: ${hint} (${error.message})`, log, error);
  }
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new ExchangeUnavailableError(`${what} failed: ${reason}`, { cause: error });
}

/** An ExchangeRejectedError, logged at error level so an operator sees what to fix. */
export function refused(
  code: string,
  message: string,
  log: DriverLogger,
  cause?: unknown,
): ExchangeRejectedError {
  log.error(`exchange refusal: ${message}`, { code });
  const error = new ExchangeRejectedError(code, message);
  if (cause !== undefined) error.cause = cause;
  return error;
}
