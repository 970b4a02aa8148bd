import { ApplicationFailure } from '@temporalio/activity';
import { AppError, DataError } from '../domain/errors.js';
import { ExchangeRejectedError } from '../exchange/exchange.js';
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
    if (error instanceof AppError) {
      throw ApplicationFailure.create({
        type: error.code,
        message: error.message,
        nonRetryable: true,
        category: 'BENIGN',
        details: [{ status: error.statusCode, code: error.code, message: error.message }],
      });
    }
    if (error instanceof ExchangeRejectedError) {
      throw ApplicationFailure.create({
        type: 'ExchangeRejected',
        message: `exchange rejected the purchase: ${error.code}: ${error.message}`,
        nonRetryable: true,
      });
    }
    if (error instanceof DataError) {
      throw ApplicationFailure.create({
        type: UNEXPECTED_DATA,
        message: `unexpected data: ${error.message}`,
        nonRetryable: true,
        // What the API answers when it happens in the debit; the data itself is not the client's business.
        details: [{ status: 422, code: 'order_not_placed', message: 'the order could not be placed' }],
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
