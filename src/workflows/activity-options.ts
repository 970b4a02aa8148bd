import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

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

/**
 * A purchase's first tries, as a local activity inside the workflow task: no activity task goes
 * through the server, which is most of an order's cost in Temporal. They are kept short (two tries
 * of at most 2 s), since the workflow task stays open while they run: an exchange that is slow or
 * down is then retried by `exchangeActivity`, whose hour of retries waits on server timers, visible
 * in the history.
 */
export const exchangeLocalActivity: LocalActivityOptions = {
  startToCloseTimeout: '2 seconds',
  retry: {
    initialInterval: '100 milliseconds',
    maximumAttempts: 2,
    nonRetryableErrorTypes: ['ExchangeRejected'],
  },
};

/** Asking the exchange what it bought: retried until it answers, since the answer decides a refund. */
export const exchangeLookupActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
