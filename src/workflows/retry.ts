import type { ActivityOptions } from '@temporalio/workflow';

/** Database work: quick, retried until it succeeds (every such activity is idempotent). */
export const dbActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

/**
 * Exchange calls: transient failures retry with backoff; a rejection, or running out of attempts,
 * fails the purchase and the order is refunded.
 */
export const exchangeActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 8,
    nonRetryableErrorTypes: ['ExchangeRejected'],
  },
};
