import { ApplicationFailure } from '@temporalio/activity';
import { DataError, DomainError, unprocessable } from '../domain/errors.js';
import { toFailure } from '../temporal/failures.js';
import { ExchangeRejectedError, ExchangeUnavailableError } from '../exchange/exchange.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';

/** The failure type of data an activity read and cannot use (see DataError). */
export const UNEXPECTED_DATA = 'UnexpectedData';

/**
 * Turns the errors that retrying cannot fix into non-retryable failures the workflow can read:
 * a business refusal keeps its code as the failure type and is benign (a normal outcome, which the
 * worker logs at debug, without a stack); an exchange rejection becomes `ExchangeRejected`; data
 * that cannot be used becomes `UnexpectedData` (the order workflow refunds what was debited).
 * Everything else (a lost connection, a deadlock) is rethrown and retried.
 */
export async function permanentFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError) throw toFailure(error);
    if (error instanceof ExchangeRejectedError) {
      throw ApplicationFailure.create({
        type: 'ExchangeRejected',
        message: `exchange rejected the purchase: ${error.code}: ${error.message}`,
        nonRetryable: true,
      });
    }
    if (error instanceof DataError) {
      // What the API answers when it happens in the debit; the data itself is not the client's business.
      const refusal = unprocessable('order_not_placed', 'the order could not be placed');
      throw toFailure(refusal, {
        type: UNEXPECTED_DATA,
        message: `unexpected data: ${error.message}`,
        benign: false,
      });
    }
    throw error;
  }
}

/** Counts an exchange purchase attempt by outcome: filled, rejected (permanent) or failed (retried). */
export async function countBuy<T>(
  deps: { metrics?: WorkerMetrics },
  kind: 'order' | 'batch',
  buy: () => Promise<T>,
): Promise<T> {
  try {
    const fill = await buy();
    deps.metrics?.exchangeBuys.inc({ kind, outcome: 'filled' });
    return fill;
  } catch (error) {
    const outcome = error instanceof ApplicationFailure && error.nonRetryable ? 'rejected' : 'failed';
    deps.metrics?.exchangeBuys.inc({ kind, outcome });
    throw error;
  }
}

/** Which exchange call failed, for exchange_errors_total. */
export type ExchangeCall = 'buy' | 'find_fill' | 'markets';

/**
 * The kind and class of an error the exchange driver threw: a refusal carries ccxt's class name as
 * its code; an unavailable exchange, the class of what caused it (a ccxt NetworkError, RequestTimeout,
 * RateLimitExceeded...); anything else is unexpected, named by its own class.
 */
export function exchangeErrorLabels(error: unknown): { kind: string; error: string } {
  if (error instanceof ExchangeRejectedError) return { kind: 'rejected', error: error.code };
  if (error instanceof ExchangeUnavailableError)
    return { kind: 'unavailable', error: error.cause instanceof Error ? error.cause.name : error.name };
  return { kind: 'unexpected', error: error instanceof Error ? error.name : typeof error };
}

/** Counts a failed exchange call by its kind and class, before it becomes a Temporal failure. */
export async function countExchangeErrors<T>(
  deps: { metrics?: WorkerMetrics },
  call: ExchangeCall,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    deps.metrics?.exchangeErrors.inc({ call, ...exchangeErrorLabels(error) });
    throw error;
  }
}
