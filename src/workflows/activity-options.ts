import type { ActivityOptions } from '@temporalio/workflow';

/** Database work: quick, retried until it succeeds (every such activity is idempotent). */
export const dbActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

/**
 * Exchange buys: transient failures retry with backoff for up to an hour (a buy is idempotent by
 * its client order id, so retrying is always safe); a rejection is final at once. When the retries
 * run out the workflow asks the exchange whether it bought anyway before it refunds anything.
 */
export const exchangeActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: ['ExchangeRejected'],
  },
};

/** Asking the exchange what it bought: retried until it answers, since the answer decides a refund. */
export const exchangeLookupActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
