import { ApplicationFailure } from '@temporalio/activity';
import { AppError } from '../domain/errors.js';
import { ExchangeRejectedError } from '../exchange/exchange.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';

/**
 * Turns the errors that retrying cannot fix into non-retryable failures the workflow can read:
 * a business refusal keeps its code as the failure type and is benign (a normal outcome, which the
 * worker logs at debug, without a stack); an exchange rejection becomes `ExchangeRejected`.
 * Everything else is rethrown and retried.
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
